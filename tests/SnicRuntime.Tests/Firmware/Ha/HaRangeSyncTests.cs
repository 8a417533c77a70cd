using System.Diagnostics;
using SnicRuntime.Firmware.Ha;
using SnicRuntime.Firmware.Ha.Sync;
using SnicRuntime.Firmware.Ha.Channel;
using SnicRuntime.TestKit;
using SnicRuntime.TestKit.Ha;
using Xunit;

namespace SnicRuntime.Tests.Firmware.Ha;

/// <summary>
/// ENI range sync (SPEC §3) between two cards on real threads and loopback UDP: the active resends
/// one ENI's flows and only them; the standby forgets what it held of that ENI first, so afterwards
/// it holds exactly the active's flows of it, and the other ENI's flows are untouched.
/// </summary>
public sealed class HaRangeSyncTests
{
    public HaRangeSyncTests() => HaCard.Root = TestPaths.RepoRoot;

    private static void WaitFor(Func<bool> condition, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(clock.ElapsedMilliseconds < 20_000, what + ": not within 20 s");
            Thread.Sleep(5);
        }
    }

    [Fact]
    public void A_range_sync_sends_one_enis_flows_and_the_standby_holds_exactly_them_afterwards()
    {
        (UdpLink la, UdpLink lb) = HaCard.LoopbackPair();
        using var a = new HaCard(1, 2, la, HaRole.Active, 1, 50_000, enis: 2);
        a.Preload(2000, eni: "eni1");
        a.Preload(8000, eni: "eni2");
        a.Dp.Start();
        a.Node.Start();
        using var b = new HaCard(2, 1, lb, HaRole.Standby, 1, 50_000, enis: 2);
        b.Dp.Start();
        b.Node.Start();
        WaitFor(() => a.State == HaState.Active && b.State == HaState.Standby && b.Pipeline.V4.Count == 10_000, "pairing with bulk sync");
        WaitFor(() => !a.Node.Sync.BulkInProgress && a.Node.Sync.Lag == 0, "the bulk acknowledged");

        long sentBefore = a.Node.Sync.RecordsSent;
        uint request = a.Node.RangeSync("eni1");
        WaitFor(() => b.Node.Sync.RangesReceived == 1 && b.Node.Workers.Sum(w => Volatile.Read(ref w.Forgotten)) == 2000
            && b.Pipeline.V4.Count == 10_000, "the range synced");

        Assert.Equal(1, a.Node.Sync.RangesSent);
        Assert.Equal(2000, a.Node.Sync.RecordsSent - sentBefore); // eni1's flows only, not eni2's 8000
        Assert.True(request > 0);
        for (int f = 0; f < 2000; f++)
        {
            Assert.True(b.Pipeline.V4.Lookup(a.PreloadedKey(f, 0, out _, "eni1")) >= 0, $"eni1 flow {f} missing on the standby after the range");
        }

        // Only the scope's active sends one, for an ENI it has.
        var notActive = Assert.Throws<InvalidOperationException>(() => b.Node.RangeSync("eni1"));
        Assert.Contains("scope 'scope-eni1' is Standby here", notActive.Message, StringComparison.Ordinal);
        var unknown = Assert.Throws<ArgumentException>(() => a.Node.RangeSync("eni9"));
        Assert.Contains("no ENI named 'eni9'", unknown.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Range_markers_cross_the_wire_and_a_marker_naming_an_impossible_eni_is_refused()
    {
        Span<byte> wire = stackalloc byte[64];
        foreach (SyncKind kind in new[] { SyncKind.RangeBegin, SyncKind.RangeEnd })
        {
            int n = SyncRecord.RangeMark(kind, 7, 42).Encode(wire);
            Assert.Equal(9, n);
            Assert.Equal(9, SyncRecord.Decode(wire[..n], out SyncRecord back));
            Assert.Equal((kind, 7, 42u), (back.Kind, back.RangeEni, back.RangeRequest));
            Assert.Equal(0, SyncRecord.Decode(wire[..8], out _)); // cut short
        }

        SyncRecord.RangeMark(SyncKind.RangeBegin, 7, 1).Encode(wire);
        wire[4] = 0xFF; // ENI index beyond what a flow key can carry
        Assert.Equal(0, SyncRecord.Decode(wire[..9], out _));
    }
}
