using SnicRuntime.Firmware.Ha.Channel;
using SnicRuntime.Firmware.Ha.Sync;
using SnicRuntime.TestKit.Ha;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using SnicRuntime.Firmware.Flows;
using SnicRuntime.Firmware.Ha;
using SnicRuntime.Firmware.Workers;
using SnicRuntime.Hal.Net;

namespace SnicRuntime.Bench;

/// <summary>
/// <c>./bench/run.sh ha</c>: the HA figures of SPEC §3, measured on this machine with real UDP on
/// loopback and real threads (the switchover case on the stepped harness, with the clock it
/// drives). One line per case, <c>ha &lt;case&gt; key=value ...</c>, and the same as JSON.
/// </summary>
internal static class HaRuns
{
    public static int Run(string[] args)
    {
        string? json = args.SkipWhile(a => a != "--json").Skip(1).FirstOrDefault();
        int kills = int.Parse(args.SkipWhile(a => a != "--kills").Skip(1).FirstOrDefault() ?? "10", CultureInfo.InvariantCulture);
        int bulkFlows = int.Parse(args.SkipWhile(a => a != "--bulk-flows").Skip(1).FirstOrDefault() ?? "1000000", CultureInfo.InvariantCulture);
        int scenarioFlows = int.Parse(args.SkipWhile(a => a != "--scenario-flows").Skip(1).FirstOrDefault() ?? "100000", CultureInfo.InvariantCulture);
        int lossSeconds = int.Parse(args.SkipWhile(a => a != "--loss-seconds").Skip(1).FirstOrDefault() ?? "60", CultureInfo.InvariantCulture);
        int runs = int.Parse(args.SkipWhile(a => a != "--random-runs").Skip(1).FirstOrDefault() ?? "20", CultureInfo.InvariantCulture);
        bool scenariosOnly = args.Contains("--scenarios-only");
        // --cases bulk,range: only those of the cases below, and no scenarios.
        string[]? only = args.SkipWhile(a => a != "--cases").Skip(1).FirstOrDefault()?.Split(',');
        var results = new List<(string Case, List<(string Key, double Value)> Figures)>();
        var cases = new (string Name, Func<List<(string, double)>> Run)[]
        {
            ("inline", Inline),
            ("first-packet", () => FirstPacket(2000)),
            ("bulk", () => Bulk(bulkFlows)),
            ("range", () => Range(bulkFlows / 10, bulkFlows - (bulkFlows / 10))),
            ("failover", () => Failover(kills, 100_000)),
            ("switchover", () => HaSwitchoverRun.Run(100_000)),
        };
        foreach ((string name, Func<List<(string, double)>> run) in cases)
        {
            if (!scenariosOnly && (only is null || only.Contains(name)))
            {
                results.Add((name, run()));
            }
        }

        if (only is not null)
        {
            return Report(results, json);
        }

        // The fault scenarios on the stepped two-card bed (its clock, its seeded network).
        // A printed seed replays a run exactly: --seed N (the randomized runs start at N + 1000).
        int seed = int.Parse(args.SkipWhile(a => a != "--seed").Skip(1).FirstOrDefault() ?? (Environment.TickCount & 0xFFFF).ToString(CultureInfo.InvariantCulture),
            CultureInfo.InvariantCulture);
        foreach (HaScenarioResult r in new[]
        {
            HaScenarios.KillActive(seed, scenarioFlows),
            HaScenarios.PartitionHeal(seed, scenarioFlows),
            HaScenarios.LossAndReorder(seed, scenarioFlows, lossSeconds),
            HaScenarios.RestartStandby(seed, scenarioFlows),
            HaScenarios.SwitchoverBothWays(seed, scenarioFlows),
            HaScenarios.SplitBrainAttempt(seed, scenarioFlows),
        })
        {
            results.Add(("scenario-" + r.Name, r.Figures()));
            Console.Error.WriteLine($"scenario {r.Name}: drops {r.Drops}");
        }

        List<HaScenarioResult> random = HaScenarios.Randomized(seed + 1000, runs, Math.Min(scenarioFlows, 20_000));
        results.Add(("scenario-randomized", [("runs", random.Count), ("first_seed", seed + 1000), ("flows_lost", random.Sum(x => x.FlowsLost)),
            ("acknowledged_flows", random.Sum(x => x.AcknowledgedFlows)), ("both_forwarding_ms", random.Sum(x => x.BothForwardingSteps)),
            ("packets_lost", random.Sum(x => x.PacketsLost)), ("packets", random.Sum(x => x.Packets))]));
        return Report(results, json);
    }

    // One line per case on stdout, and the same as JSON when asked.
    private static int Report(List<(string Case, List<(string Key, double Value)> Figures)> results, string? json)
    {
        foreach ((string name, List<(string Key, double Value)> figures) in results)
        {
            Console.WriteLine($"ha {name} " + string.Join(' ', figures.Select(f => $"{f.Key}={Format(f.Value)}")));
        }

        if (json is not null)
        {
            var t = new StringBuilder("[\n");
            t.AppendJoin(",\n", results.Select(r => $"  {{\"case\": \"{r.Case}\", " + string.Join(", ", r.Figures.Select(f => $"\"{f.Key}\": {Format(f.Value)}")) + "}"));
            t.Append("\n]\n");
            File.WriteAllText(json, t.ToString());
        }

        return 0;
    }

    private static string Format(double v) => v == Math.Floor(v) && Math.Abs(v) < 1e15 ? ((long)v).ToString(CultureInfo.InvariantCulture) : v.ToString("0.###", CultureInfo.InvariantCulture);

    private static double Percentile(List<double> values, double q)
    {
        if (values.Count == 0)
        {
            return double.NaN;
        }

        values.Sort();
        return values[Math.Min(values.Count - 1, (int)Math.Ceiling(q * values.Count) - 1)];
    }

    /// <summary>
    /// Inline sync throughput: one sync thread per side (the active's also plays its worker,
    /// enqueuing flow updates), UDP on loopback, AES-GCM and Brotli on; counted when the standby
    /// has acknowledged them.
    /// </summary>
    private static List<(string, double)> Inline()
    {
        (UdpLink la, UdpLink lb) = HaCard.LoopbackPair();
        var options = new HaChannelOptions { RetransmitMs = 20 };
        using var ca = new HaChannel(la, HaCard.Key, 1, 2, options);
        using var cb = new HaChannel(lb, HaCard.Key, 2, 1, options);
        var wa = new WorkerSync(0, outboxCapacity: 1 << 16);
        var wb = new WorkerSync(0, inboxCapacity: 1 << 16);
        var sa = new FlowSync(ca, [wa], _ => 0);
        var sb = new FlowSync(cb, [wb], _ => 0);
        var clock = Stopwatch.StartNew();
        var stop = new CancellationTokenSource(TimeSpan.FromSeconds(3));
        long received = 0;
        var standby = new Thread(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                sb.Poll(clock.ElapsedMilliseconds);
                while (wb.Inbox.TryDequeue(out _))
                {
                    received++;
                }
            }
        }) { IsBackground = true };
        standby.Start();
        var entry = new FlowEntry { Action = 5, Tcp = TcpState.Established, Generation = 1 };
        uint n = 0;
        long startAcked = 0, started = 0;
        double startAt = 0;
        while (!stop.IsCancellationRequested)
        {
            // Updates of 1M distinct flows (the key changes like real traffic's would).
            for (int k = 0; k < 256 && wa.Outbox.Count < wa.Outbox.Capacity - 1; k++, n++)
            {
                entry.Version = n;
                FlowKeyV4 key = FlowKeyV4.Create(1, 0x0A000000u + (n % 1_000_000), 0x0A800001u, (ushort)n, 443, IpProtocols.Tcp, out _);
                wa.Offer(SyncRecord.Upsert(key, entry, n));
            }

            sa.Poll(clock.ElapsedMilliseconds);
            if (started == 0 && clock.ElapsedMilliseconds >= 500)
            {
                started = 1; // half a second of warm-up (JIT, socket buffers)
                startAcked = Volatile.Read(ref wa.Acked);
                startAt = clock.Elapsed.TotalSeconds;
            }
        }

        standby.Join();
        double seconds = clock.Elapsed.TotalSeconds - startAt;
        long acked = Volatile.Read(ref wa.Acked) - startAcked;
        return [("inline_updates_per_s", Math.Round(acked / seconds)), ("wire_bytes_per_update", Math.Round((double)ca.Counters.WireBytes / Math.Max(1, wa.Produced), 1)),
            ("payload_bytes_per_update", Math.Round((double)ca.Counters.PayloadBytes / Math.Max(1, wa.Produced), 1)), ("retransmits", ca.Counters.Retransmits)];
    }

    /// <summary>
    /// What waiting for the standby adds to a new flow's first packet: the time from handing the
    /// SYN to the worker until it is on the wire, paired (both HA nodes on their own threads over
    /// UDP loopback) minus the same with the card alone. Percentiles of each, subtracted.
    /// </summary>
    private static List<(string, double)> FirstPacket(int flows)
    {
        List<double> paired = FirstPacketLatencies(flows, pair: true);
        List<double> alone = FirstPacketLatencies(flows, pair: false);
        double p50 = Percentile(paired, 0.50) - Percentile(alone, 0.50);
        double p99 = Percentile(paired, 0.99) - Percentile(alone, 0.99);
        return [("first_packet_added_us_p50", Math.Round(p50, 1)), ("first_packet_added_us_p99", Math.Round(p99, 1)),
            ("paired_us_p50", Math.Round(Percentile(paired, 0.5), 1)), ("alone_us_p50", Math.Round(Percentile(alone, 0.5), 1)), ("flows", flows)];
    }

    private static List<double> FirstPacketLatencies(int flows, bool pair)
    {
        (UdpLink la, UdpLink lb) = HaCard.LoopbackPair();
        using var a = new HaCard(1, 2, la, HaRole.Active, 1, 65_536);
        using var b = new HaCard(2, 1, lb, HaRole.Standby, 1, 65_536);
        IWorker wa = a.Dp.Workers[0], wb = b.Dp.Workers[0];
        a.Node.Start();
        if (pair)
        {
            b.Node.Start();
            WaitFor(() => a.State == HaState.Active && b.State == HaState.Standby, 5000, "pairing", () => { wa.PollOnce(); wb.PollOnce(); });
        }
        else
        {
            WaitFor(() => a.State == HaState.Standalone, 5000, "the card alone", () => wa.PollOnce());
        }

        var latencies = new List<double>();
        for (int f = 0; f < flows + 200; f++)
        {
            a.Inject(HaCard.Frame((ushort)(1000 + f), TcpFlags.Syn));
            long start = Stopwatch.GetTimestamp();
            int sent;
            while ((sent = a.DrainUplink()) == 0)
            {
                wa.PollOnce();
                if (pair)
                {
                    wb.PollOnce();
                }
            }

            if (f >= 200)
            {
                latencies.Add(Stopwatch.GetElapsedTime(start).TotalMicroseconds); // the first 200 warm up
            }
        }

        return latencies;
    }

    /// <summary>Bulk sync: the active holds <paramref name="flows"/> flows; a standby joins; time until it holds them all.</summary>
    private static List<(string, double)> Bulk(int flows)
    {
        (UdpLink la, UdpLink lb) = HaCard.LoopbackPair();
        using var a = new HaCard(1, 2, la, HaRole.Active, 1, flows + (flows / 2), probeMs: 20);
        a.Preload(flows);
        if (a.Pipeline.V4.Count != flows)
        {
            throw new InvalidOperationException($"bulk sync: only {a.Pipeline.V4.Count} of {flows} flows fit the active's table");
        }

        a.Dp.Start();
        a.Node.Start();
        WaitFor(() => a.State == HaState.Standalone, 5000, "the active alone");
        var clock = Stopwatch.StartNew();
        using var b = new HaCard(2, 1, lb, HaRole.Standby, 1, flows + (flows / 2), probeMs: 20);
        b.Dp.Start();
        b.Node.Start();
        WaitFor(() => b.State == HaState.Standby, 60_000, "bulk sync");
        double seconds = clock.Elapsed.TotalSeconds;
        a.Dp.Stop(TimeSpan.FromSeconds(5));
        b.Dp.Stop(TimeSpan.FromSeconds(5));
        long got = b.Pipeline.V4.Count;
        if (got != flows)
        {
            throw new InvalidOperationException($"bulk sync: the standby holds {got} of {flows} flows");
        }

        return [("bulk_1m_s", Math.Round(seconds * 1_000_000.0 / flows, 3)), ("flows", flows), ("seconds", Math.Round(seconds, 3))];
    }

    /// <summary>
    /// ENI range sync (SPEC §6: 100K flows ≤ 100 ms): the active holds <paramref name="flows"/>
    /// flows of eni1 among <paramref name="others"/> of eni2, both in the scope its standby holds;
    /// time from the request until the standby has forgotten its eni1 flows, received the active's
    /// again and holds every flow. Only eni1's flows cross (checked).
    /// </summary>
    private static List<(string, double)> Range(int flows, int others)
    {
        (UdpLink la, UdpLink lb) = HaCard.LoopbackPair();
        int capacity = (flows + others) * 2;
        using var a = new HaCard(1, 2, la, HaRole.Active, 1, capacity, probeMs: 20, enis: 2);
        a.Preload(flows, eni: "eni1");
        a.Preload(others, eni: "eni2");
        if (a.Pipeline.V4.Count != flows + others)
        {
            throw new InvalidOperationException($"range sync: only {a.Pipeline.V4.Count} of {flows + others} flows fit the active's table");
        }

        a.Dp.Start();
        a.Node.Start();
        using var b = new HaCard(2, 1, lb, HaRole.Standby, 1, capacity, probeMs: 20, enis: 2);
        b.Dp.Start();
        b.Node.Start();
        try
        {
            WaitFor(() => b.State == HaState.Standby && b.Pipeline.V4.Count == flows + others, 60_000, "range: pairing with bulk sync");
        }
        catch (TimeoutException e)
        {
            WorkerSync w = b.Node.Workers[0];
            throw new TimeoutException($"{e.Message}: standby {b.State} holds {b.Pipeline.V4.Count} (installed {w.Installed}, stale {w.InstallStale}, " +
                $"full {w.InstallFull}); active {a.State}, bulk in progress {a.Node.Sync.BulkInProgress}, sent {a.Node.Sync.RecordsSent}, lag {a.Node.Sync.Lag}", e);
        }

        WaitFor(() => !a.Node.Sync.BulkInProgress && a.Node.Sync.Lag == 0, 60_000, "range: the bulk acknowledged");
        long sentBefore = a.Node.Sync.RecordsSent;
        var clock = Stopwatch.StartNew();
        a.Node.RangeSync("eni1");
        // Where the time goes: the standby's forgetting and the active's walk run at once; the
        // standby installs what arrived once it has forgotten.
        double forgotMs = -1, endMs = -1;
        WaitFor(() =>
        {
            double now = clock.Elapsed.TotalMilliseconds;
            forgotMs = forgotMs < 0 && b.Node.Workers.Sum(w => Volatile.Read(ref w.Forgotten)) == flows ? now : forgotMs;
            endMs = endMs < 0 && b.Node.Sync.RangesReceived == 1 ? now : endMs;
            return forgotMs >= 0 && endMs >= 0;
        }, 60_000, "range sync: the standby forgot and the end marker arrived");
        WaitFor(() => b.Node.Sync.RangesReceived == 1 && b.Node.Workers.Sum(w => Volatile.Read(ref w.Forgotten)) == flows
            && b.Pipeline.V4.Count == flows + others, 60_000, "range sync");
        double ms = clock.Elapsed.TotalMilliseconds;
        long sent = a.Node.Sync.RecordsSent - sentBefore;
        a.Dp.Stop(TimeSpan.FromSeconds(5));
        b.Dp.Stop(TimeSpan.FromSeconds(5));
        if (sent != flows)
        {
            throw new InvalidOperationException($"range sync: {sent} records sent for {flows} flows of the ENI");
        }

        return [("range_100k_ms", Math.Round(ms * 100_000.0 / flows, 1)), ("flows", flows), ("other_flows", others), ("ms", Math.Round(ms, 1)),
            ("standby_forgot_ms", Math.Round(forgotMs, 1)), ("end_marker_ms", Math.Round(endMs, 1)), ("records_sent", sent)];
    }

    /// <summary>
    /// Repeated unplanned failovers: a pair with <paramref name="flows"/> flows and new connections
    /// arriving; the active is killed (its threads stop dead: no goodbye); the standby detects it
    /// (probe interval × multiplier), the witness grants it the next term, it takes over. Counts the
    /// flows whose first packet the active released that the survivor does not have.
    /// </summary>
    private static List<(string, double)> Failover(int kills, int flows)
    {
        var detect = new List<double>();
        var takeover = new List<double>();
        long lost = 0, acknowledged = 0;
        for (int k = 0; k < kills; k++)
        {
            (UdpLink la, UdpLink lb) = HaCard.LoopbackPair();
            var a = new HaCard(1, 2, la, HaRole.Active, 1, flows * 2);
            using var b = new HaCard(2, 1, lb, HaRole.Standby, 1, flows * 2);
            a.Preload(flows, salt: k);
            a.Node.Start();
            b.Node.Start();
            b.Dp.Start();
            IWorker wa = a.Dp.Workers[0];
            WaitFor(() => a.State == HaState.Active && b.State == HaState.Standby, 30_000, "pairing with bulk sync", () => wa.PollOnce());
            // Live traffic: new connections through the active until the kill.
            var kill = Stopwatch.StartNew();
            int f = 0;
            while (kill.ElapsedMilliseconds < 300)
            {
                a.Inject(HaCard.Frame((ushort)(f % 60000), TcpFlags.Syn, src: 0x0A020000u + (uint)(f / 60000)));
                f++;
                wa.PollOnce();
                a.DrainUplink();
            }

            // Kill -9: the active's sync thread and worker stop at once.
            long killedAt = Stopwatch.GetTimestamp();
            a.Node.Dispose();
            while (b.Node.PeerUp)
            {
                Thread.Sleep(0);
            }

            // Detection is when the standby's node declared the peer lost (its own timestamp).
            detect.Add(Stopwatch.GetElapsedTime(killedAt, b.Node.PeerLostTimestamp).TotalMilliseconds);
            // The witness (the management plane's own probes found the active gone too) grants term 2.
            b.Node.Command("scope-eni1", new HaEvent(HaEventKind.TakeoverGranted, 2));
            takeover.Add(Stopwatch.GetElapsedTime(killedAt).TotalMilliseconds);
            b.Dp.Stop(TimeSpan.FromSeconds(5));
            var released = new List<FlowKeyV4>();
            var batch = new FlowRecord<FlowKeyV4>[256];
            for (int bucket = 0; bucket >= 0;)
            {
                int n = a.Pipeline.V4.ReadFlows(bucket, batch, out bucket);
                released.AddRange(batch.Take(n).Where(r => (r.Entry.Flags & FlowFlags.SyncPending) == 0).Select(r => r.Key));
            }
            foreach (FlowKeyV4 key in released)
            {
                acknowledged++;
                if (b.Pipeline.V4.Lookup(key) < 0)
                {
                    lost++;
                }
            }

            a.Dp.Dispose();
        }

        return [("detect_ms_p50", Math.Round(Percentile(detect, 0.5), 1)), ("detect_ms_p99", Math.Round(Percentile(detect, 0.99), 1)),
            ("takeover_ms_p50", Math.Round(Percentile(takeover, 0.5), 1)), ("takeover_ms_p99", Math.Round(Percentile(takeover, 0.99), 1)),
            ("flows_lost", lost), ("acknowledged_flows", acknowledged), ("kills", kills)];
    }

    /// <summary>Waits, running <paramref name="meanwhile"/> (workers polled by hand) or napping.</summary>
    public static void WaitFor(Func<bool> done, int timeoutMs, string what, Action? meanwhile = null)
    {
        var clock = Stopwatch.StartNew();
        while (!done())
        {
            if (clock.ElapsedMilliseconds > timeoutMs)
            {
                throw new TimeoutException($"{what}: not within {timeoutMs} ms");
            }

            if (meanwhile is null)
            {
                Thread.Sleep(1);
            }
            else
            {
                meanwhile();
            }
        }
    }
}
