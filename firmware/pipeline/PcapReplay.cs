using System.Text.Json;
using SnicRuntime.Firmware.Flows;
using SnicRuntime.Firmware.Parsing;
using SnicRuntime.Firmware.Workers;
using SnicRuntime.Hal;
using SnicRuntime.Hal.Emulated;
using SnicRuntime.Hal.Pcap;

namespace SnicRuntime.Firmware.Pipeline;

/// <summary>What a replay did: packets in and out per port, drops by reason, pipeline counters.</summary>
public sealed record ReplaySummary(
    long Generation,
    long PacketsIn,
    IReadOnlyDictionary<int, long> PacketsOutByPort,
    IReadOnlyDictionary<string, long> DropsByReason,
    PipelineCounters Pipeline,
    long FlowsActive)
{
    public long PacketsOut => PacketsOutByPort.Values.Sum();

    public long Dropped => DropsByReason.Values.Sum();

    /// <summary>The summary as JSON (written by hand with Utf8JsonWriter: no reflection, AOT-safe).</summary>
    public string ToJson()
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteNumber("generation", Generation);
            w.WriteNumber("packets_in", PacketsIn);
            w.WriteNumber("packets_out", PacketsOut);
            w.WriteNumber("dropped", Dropped);
            w.WriteStartObject("packets_out_by_port");
            foreach ((int port, long n) in PacketsOutByPort.OrderBy(x => x.Key))
            {
                w.WriteNumber($"port{port}", n);
            }

            w.WriteEndObject();
            w.WriteStartObject("drops_by_reason");
            foreach ((string reason, long n) in DropsByReason.OrderBy(x => x.Key, StringComparer.Ordinal))
            {
                w.WriteNumber(reason, n);
            }

            w.WriteEndObject();
            PipelineCounters c = Pipeline;
            w.WriteStartObject("pipeline");
            w.WriteNumber("outbound", c.Outbound);
            w.WriteNumber("inbound", c.Inbound);
            w.WriteNumber("flow_hits", c.FlowHits);
            w.WriteNumber("flow_misses", c.FlowMisses);
            w.WriteNumber("flows_created", c.FlowsCreated);
            w.WriteNumber("flows_active", FlowsActive);
            w.WriteNumber("acl_evaluations", c.AclEvaluations);
            w.WriteNumber("route_lookups", c.RouteLookups);
            w.WriteNumber("mapping_lookups", c.MappingLookups);
            w.WriteNumber("encapsulated", c.Encapsulated);
            w.WriteNumber("decapsulated", c.Decapsulated);
            w.WriteNumber("nat_translations", c.NatTranslations);
            w.WriteEndObject();
            w.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }
}

/// <summary>
/// Runs a capture through the full pipeline as the emulated board would (one worker, emulated
/// ports) and records what every port transmits. Packets go in one at a time, so each output
/// frame carries the timestamp of the input frame that caused it.
/// </summary>
public static class PcapReplay
{
    public static ReplaySummary Run(PolicyStore store, IReadOnlyList<PcapRecord> input, int inPort, int portCount, string outDir)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(input);
        if (portCount < 1 || inPort < 0 || inPort >= portCount)
        {
            throw new ArgumentOutOfRangeException(nameof(inPort), $"input port {inPort} does not exist (the board has {portCount} ports)");
        }

        Directory.CreateDirectory(outDir);
        using var pool = new PacketPool(1024, dataRoom: 9216 + 256);
        var ports = new EmulatedPort[portCount];
        var writers = new PcapWriter[portCount];
        var rx = new EmulatedRxQueue[portCount];
        var tx = new EmulatedTxQueue[portCount];
        using var pipeline = new PolicyPipeline(store, 65_536);
        try
        {
            for (int p = 0; p < portCount; p++)
            {
                ports[p] = new EmulatedPort(new PortSpec(p, $"port{p}", 1, 256, 256, 100), pool, rss: null);
                writers[p] = PcapWriter.Create(Path.Combine(outDir, $"port{p}.pcap"));
                rx[p] = ports[p].RxQueue(0);
                tx[p] = ports[p].TxQueue(0);
            }

            var worker = new Worker<EmulatedRxQueue, EmulatedTxQueue, PolicyStage>(0, rx, tx, new PolicyStage(pipeline), pool, 32);
            var outCount = new Dictionary<int, long>();
            Span<PacketRef> one = stackalloc PacketRef[1];
            Span<PacketRef> drained = new PacketRef[64];
            long tooBig = 0, noBuffer = 0;
            foreach (PcapRecord record in input)
            {
                if (!pool.TryAlloc(out PacketRef packet) || !packet.SetLength(record.Data.Length))
                {
                    // Counted either way: a frame the buffers cannot hold, or (never expected, since
                    // every packet is drained before the next) no free buffer.
                    tooBig += packet.IsNull ? 0 : 1;
                    noBuffer += packet.IsNull ? 1 : 0;
                    if (!packet.IsNull)
                    {
                        pool.Free(packet);
                    }

                    continue;
                }

                record.Data.CopyTo(packet.Data);
                one[0] = packet;
                ports[inPort].Inject(one);
                worker.PollOnce();
                for (int p = 0; p < portCount; p++)
                {
                    int n;
                    while ((n = ports[p].Drain(drained)) > 0)
                    {
                        for (int k = 0; k < n; k++)
                        {
                            writers[p].Write(drained[k].Data, record.TimestampMicroseconds);
                        }

                        outCount[p] = outCount.GetValueOrDefault(p) + n;
                        pool.FreeBulk(drained[..n]);
                    }
                }
            }

            var drops = new Dictionary<string, long>(StringComparer.Ordinal);
            long[] byReason = worker.Counters.Drops;
            for (int r = 0; r < byReason.Length; r++)
            {
                if (byReason[r] != 0)
                {
                    drops[((DropReason)r).ToString()] = byReason[r];
                }
            }

            if (noBuffer != 0)
            {
                drops["NoBuffer"] = noBuffer;
            }

            if (tooBig != 0)
            {
                drops["FrameTooLarge"] = tooBig;
            }

            return new ReplaySummary(store.Current?.Generation ?? 0, input.Count, outCount, drops, pipeline.Counters, pipeline.V4.Count + pipeline.V6.Count);
        }
        finally
        {
            foreach (PcapWriter? w in writers)
            {
                w?.Dispose();
            }

            foreach (EmulatedPort? p in ports)
            {
                p?.Dispose();
            }
        }
    }
}
