using SnicRuntime.Firmware;
using SnicRuntime.TestKit;
using Xunit;
using SnicRuntime.Firmware.Parsing;
using SnicRuntime.Firmware.Pipeline;
using SnicRuntime.Firmware.Workers;
using SnicRuntime.Hal;

namespace SnicRuntime.Tests.Firmware.Pipeline;

/// <summary>Parser + one worker's pipeline, driven a packet at a time, so a test sees each verdict and output frame.</summary>
internal sealed class PipelineHarness : IDisposable
{
    private readonly PacketPool _pool = new(64, dataRoom: 4096);

    public PipelineHarness(string? planJson = null, int flows = 4096)
    {
        Pipeline = new PolicyPipeline(Store, flows);
        if (planJson is not null)
        {
            ApplyResult r = Store.Apply(planJson);
            Assert.True(r.Accepted, string.Join('\n', r.Errors));
        }
    }

    public static string PlanText(string name) => File.ReadAllText(TestPaths.Plan(name));

    public PolicyStore Store { get; } = new(portCount: 4);

    public PolicyPipeline Pipeline { get; }

    public PipelineCounters Counters => Pipeline.Counters;

    /// <summary>Runs one frame arriving on <paramref name="port"/>; returns the emitted frame (null when dropped) and the egress port or drop reason.</summary>
    public (byte[]? Output, int Port, DropReason Reason) Run(byte[] frame, int port = 0)
    {
        Assert.True(_pool.TryAlloc(out PacketRef packet));
        Assert.True(packet.SetLength(frame.Length));
        frame.CopyTo(packet.Data);
        var meta = new ParsedPacket[1];
        var egress = new ushort[1];
        var drops = new DropReason[1];
        drops[0] = PacketParser.Parse(packet.Data, out meta[0]);
        egress[0] = drops[0] == DropReason.None ? Egress.Pending : Egress.Drop;
        PacketRef[] burst = [packet];
        Pipeline.Process(port, burst, meta, egress, drops);
        byte[]? output = egress[0] < Egress.Pending ? packet.Data.ToArray() : null;
        _pool.Free(packet);
        return (output, egress[0] < Egress.Pending ? egress[0] : -1, output is null ? drops[0] : DropReason.None);
    }

    /// <summary>Runs <paramref name="frames"/> as one burst; returns each packet's outcome as <see cref="Run"/> does.</summary>
    public (byte[]? Output, int Port, DropReason Reason)[] RunBurst(byte[][] frames, int port = 0)
    {
        var packets = new PacketRef[frames.Length];
        var meta = new ParsedPacket[frames.Length];
        var egress = new ushort[frames.Length];
        var drops = new DropReason[frames.Length];
        for (int i = 0; i < frames.Length; i++)
        {
            Assert.True(_pool.TryAlloc(out packets[i]));
            Assert.True(packets[i].SetLength(frames[i].Length));
            frames[i].CopyTo(packets[i].Data);
            drops[i] = PacketParser.Parse(packets[i].Data, out meta[i]);
            egress[i] = drops[i] == DropReason.None ? Egress.Pending : Egress.Drop;
        }

        Pipeline.Process(port, packets, meta, egress, drops);
        var outcomes = new (byte[]?, int, DropReason)[frames.Length];
        for (int i = 0; i < frames.Length; i++)
        {
            byte[]? output = egress[i] < Egress.Pending ? packets[i].Data.ToArray() : null;
            outcomes[i] = (output, output is null ? -1 : egress[i], output is null ? drops[i] : DropReason.None);
            _pool.Free(packets[i]);
        }

        return outcomes;
    }

    public byte[] Forwarded(byte[] frame, int port = 0)
    {
        var (output, _, reason) = Run(frame, port);
        Assert.True(output is not null, $"expected the packet to be forwarded, dropped: {reason}");
        return output!;
    }

    public void Dispose()
    {
        Pipeline.Dispose();
        _pool.Dispose();
    }
}
