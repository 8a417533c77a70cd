using Xunit;
using SnicRuntime.Firmware.Parsing;
using SnicRuntime.Firmware.Pipeline;
using SnicRuntime.Firmware.Workers;
using SnicRuntime.Hal;

namespace SnicRuntime.Tests.Pipeline;

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
