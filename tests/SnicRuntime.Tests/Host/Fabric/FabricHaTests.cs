using SnicRuntime.Management.Fabric;
using SnicRuntime.TestKit.Fabric;
using Xunit;

namespace SnicRuntime.Tests.Host.Fabric;

/// <summary>
/// HA across real processes, judged by the fabric's census: two snic-firmware processes wired to
/// the fabric by shared memory, paired by snicctl and witnessed by snicctl serve. The active is
/// cut from its standby for a second, then killed with SIGKILL under traffic, restarts and rejoins; then a planned switchover hands the
/// scope back. No acknowledged connection may break, and two cards may never decide one scope.
/// </summary>
[Collection("processes")] // with the other tests that start processes: run beside a QEMU guest, its load stalled the guest's boot (CI)
public sealed class FabricHaTests
{
    [Fact]
    public void Partition_then_kill_the_active_under_traffic_then_switch_back_and_no_acknowledged_flow_is_lost()
    {
        using FabricHaBed bed = FabricHaBed.Start(new FabricHaBedOptions
        {
            Traffic = new FabricOptions { ConnectionsPerEni = 20, StepsPerConnection = 200, StepGapMs = 5 },
            LogDirectory = Environment.GetEnvironmentVariable("SNIC_FABRIC_LOGS"), // kept for when it fails
        });
        bed.Fabric.StartTraffic();
        bed.Until(() => bed.Fabric.Sample().Acknowledged >= 80, TimeSpan.FromSeconds(20), "connections acknowledged on both cards");

        // Cut the replication link for a second: the active goes on alone, the standby does not
        // take over (its witness still sees the active), and the pair syncs again after the heal.
        bed.Relay!.Cut(true);
        bed.Until(() => bed.StatusOf(0) is { PeerUp: false } && bed.StatusOf(1) is { PeerUp: false }, TimeSpan.FromSeconds(20), "both cards lose their peer");
        Thread.Sleep(1000);
        bed.Relay.Cut(false);
        bed.Until(bed.Synced, TimeSpan.FromSeconds(60), "the pair synced again after the heal");
        Assert.True(bed.Relay.Dropped > 0, "the cut dropped replication datagrams");

        int victim = bed.ActiveOf("eni1");
        bed.Kill(victim);
        bed.Until(() => bed.ActiveOf("eni1") == 1 - victim, TimeSpan.FromSeconds(20), "the survivor takes eni1's scope and the fabric moves it there");
        long acknowledgedAtKill = bed.Fabric.Sample().Acknowledged;
        bed.Until(() => bed.Fabric.Sample().Acknowledged > acknowledgedAtKill + 20, TimeSpan.FromSeconds(20), "new connections decided by the survivor");

        bed.StartCard(victim);
        bed.Until(bed.Synced, TimeSpan.FromSeconds(90), "the restarted card back as standby, bulk-synced");

        // A planned switchover, named by an ENI of the scope: the fabric moves eni1 only once the
        // new active says it is complete, and the old active hands over first.
        int before = bed.ActiveOf("eni1");
        bed.Note("switchover");
        (int code, string output, string err) = bed.Snicctl("ha", "switchover", "eni1");
        Assert.True(code == 0, output + err);
        bed.Until(() => bed.ActiveOf("eni1") == 1 - before && bed.Synced(), TimeSpan.FromSeconds(60), "eni1's scope switched over and synced");

        bed.Fabric.StopOpening();
        bed.Until(() => bed.Fabric.LiveConnections == 0, TimeSpan.FromSeconds(60), "every connection finished or broken");
        EniCensus census = bed.Fabric.Sample();
        Assert.True(census.FlowsLost == 0, $"{census}; {bed.Describe()}");
        Assert.True(census.Refused == 0, census.ToString());
        Assert.Equal(census.Opened, census.Completed);
        Assert.Equal(0, census.BothDecidingMs);
        Assert.Equal(0, census.Misdelivered);
        Assert.True(bed.Fabric.Read(f => f.CardArrivals.All(n => n > 0)), "both cards forwarded traffic at some point");
    }
}
