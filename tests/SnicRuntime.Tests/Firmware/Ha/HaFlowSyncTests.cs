using SnicRuntime.Firmware.Card;
using SnicRuntime.Firmware.Flows;
using SnicRuntime.Firmware.Ha.Channel;
using SnicRuntime.Firmware.Ha;
using SnicRuntime.Firmware.Parsing;
using SnicRuntime.Firmware.Pipeline;
using SnicRuntime.Firmware.Workers;
using SnicRuntime.Firmware;
using SnicRuntime.Hal;
using SnicRuntime.Hal.Board;
using SnicRuntime.Hal.Net;
using SnicRuntime.TestKit.Faults;
using SnicRuntime.TestKit;
using SnicRuntime.Tests.Firmware.Pipeline;
using Xunit;

namespace SnicRuntime.Tests.Firmware.Ha;

/// <summary>
/// Two cards in one process (each a dataplane with the VNET-to-VNET plan and an HA node), joined
/// by the deterministic fault-injecting network and driven step by step on one clock: pairing
/// with bulk sync, first packets held until the standby acknowledges their flow, partitions,
/// failover with every acknowledged flow on the survivor, redirect from the standby side.
/// </summary>
public sealed class HaFlowSyncTests : IDisposable
{
    private static readonly byte[] s_key = Enumerable.Range(100, 32).Select(i => (byte)i).ToArray();
    private readonly Card _a;
    private readonly Card _b;
    private readonly FaultyNetwork _net;
    private long _now;

    private sealed class Card(Dataplane dp, PolicyStore store, HaNode node) : IDisposable
    {
        public Dataplane Dp { get; } = dp;
        public PolicyStore Store { get; } = store;
        public HaNode Node { get; } = node;
        public bool Alive { get; set; } = true;

        public void Dispose()
        {
            Node.Dispose();
            Dp.Dispose();
        }
    }

    public HaFlowSyncTests()
    {
        _net = new FaultyNetwork(7, () => _now);
        _a = MakeCard(1, 2, _net.A, HaRole.Active, "172.16.2.1", "172.16.2.2");
        _b = MakeCard(2, 1, _net.B, HaRole.Standby, "172.16.2.2", "172.16.2.1");
    }

    private static Card MakeCard(uint id, uint peer, IDatagramLink link, HaRole role, string local, string remote)
    {
        BoardDefinition board = BoardLoader.Load(Path.Combine(TestPaths.BoardsDirectory, "emulated", "emulated.json"));
        var store = new PolicyStore(board.Ports.Count);
        Assert.True(store.Apply(PipelineHarness.PlanText("vnet-to-vnet.json")).Accepted);
        Dataplane dp = Dataplane.Create(board, new DataplaneOptions { Stage = StageKind.Policy, Policy = store, FlowsPerWorker = 4096 });
        var config = new HaConfig
        {
            CardId = id,
            PeerId = peer,
            PairingKey = s_key,
            Scopes = [new HaScopeConfig("scope-eni1", ["eni1"], role, 1)],
            LocalUnderlay = Overlay.V4(local),
            PeerUnderlay = Overlay.V4(remote),
            Channel = new HaChannelOptions { RetransmitMs = 5, MaxRetransmitMs = 40 },
        };
        var node = new HaNode(config, link, store, dp.Pipelines, dp.WorkerOfFlowHash);
        return new Card(dp, store, node);
    }

    public void Dispose()
    {
        _a.Dispose();
        _b.Dispose();
    }

    /// <summary>One millisecond: every live card's workers poll, then its HA node.</summary>
    private void Step(int ms = 1)
    {
        for (int i = 0; i < ms; i++)
        {
            foreach (Card c in new[] { _a, _b }.Where(c => c.Alive))
            {
                foreach (IWorker w in c.Dp.Workers)
                {
                    w.PollOnce();
                }

                c.Node.Poll(_now);
            }

            _now++;
        }
    }

    private void StepUntil(Func<bool> done, int maxMs, string what)
    {
        for (int i = 0; i < maxMs && !done(); i++)
        {
            Step();
        }

        Assert.True(done(), $"{what} within {maxMs} ms (a: {_a.Node.Scopes[0].State}, b: {_b.Node.Scopes[0].State}; " +
            $"a heard {_a.Node.Channel.Counters.DatagramsReceived} dropped [{string.Join(",", _a.Node.Channel.Counters.Drops)}], " +
            $"b heard {_b.Node.Channel.Counters.DatagramsReceived} dropped [{string.Join(",", _b.Node.Channel.Counters.Drops)}], net sent {_net.Sent} dropped {_net.Dropped})");
    }

    private static HaState StateOf(Card c) => c.Node.Scopes[0].State;

    private string History() => string.Join("\n", new[] { ("a", _a), ("b", _b) }.SelectMany(x => x.Item2.Node.History.Select(h =>
        $"{x.Item1} @{h.AtMs}: {h.Transition.From} -> {h.Transition.To} on {h.Transition.Event}{(h.Transition.Refused ? " REFUSED " + h.Transition.Why : "")}")));

    private static void Send(Card c, IEnumerable<byte[]> frames)
    {
        foreach (byte[] f in frames)
        {
            PacketRef[] one = new PacketRef[1];
            Assert.Equal(1, c.Dp.Pool.AllocBulk(one));
            one[0].SetLength(f.Length);
            f.CopyTo(one[0].Data);
            Assert.Equal(1, c.Dp.EmulatedPort(0).Inject(one));
        }
    }

    /// <summary>Frames the card transmitted on its uplink (port 0), drained and freed.</summary>
    private static List<byte[]> Sent(Card c)
    {
        var got = new List<byte[]>();
        var buffer = new PacketRef[64];
        int n;
        while ((n = c.Dp.EmulatedPort(0).Drain(buffer)) > 0)
        {
            for (int i = 0; i < n; i++)
            {
                got.Add(buffer[i].Data.ToArray());
            }

            c.Dp.Pool.FreeBulk(buffer.AsSpan(0, n));
        }

        return got;
    }

    private static IEnumerable<byte[]> Syns(int first, int count, TcpFlags flags = TcpFlags.Syn) =>
        Enumerable.Range(first, count).Select(i => Overlay.FromVm("10.1.2.50", sport: (ushort)(1000 + i), dport: 80, protocol: IpProtocols.Tcp, tcp: flags));

    private static long Flows(Card c) => c.Dp.Pipelines.Sum(p => (long)p.V4.Count);

    private void Pair()
    {
        StepUntil(() => StateOf(_a) == HaState.Active && StateOf(_b) == HaState.Standby, 500, "pairing (bulk sync of an empty table)");
    }

    [Fact]
    public void Pairing_bulk_syncs_then_first_packets_wait_for_the_standby_and_every_acknowledged_flow_survives_failover()
    {
        // Flows made while A is alone, before B joins, reach B by bulk sync.
        _b.Alive = false;
        StepUntil(() => StateOf(_a) == HaState.Standalone, 500, "A alone");
        Send(_a, Syns(0, 200));
        Step(20);
        Assert.Equal(200, Sent(_a).Count); // alone: nothing to wait for
        _b.Alive = true;
        Pair();
        StepUntil(() => Flows(_b) == 200, 200, "bulk sync of 200 flows");

        // Paired: new flows' first packets are held until B has them.
        _net.Faults.DelayMs = 3; // acknowledgement takes a few ms
        Send(_a, Syns(200, 300));
        for (int i = 0; i < 20; i++)
        {
            foreach (IWorker w in _a.Dp.Workers)
            {
                w.PollOnce(); // the workers run; the sync thread does not (yet): nobody acknowledges
            }
        }

        Assert.Empty(Sent(_a));
        Assert.Equal(300, _a.Dp.Pipelines.Sum(p => p.Hold!.Count));
        StepUntil(() => _a.Dp.Pipelines.Sum(p => p.Hold!.Count) == 0, 200, "held first packets released");
        Assert.Equal(300, Sent(_a).Count);
        StepUntil(() => Flows(_b) == 500, 200, "B installs every flow");

        // A partition: new first packets stay held (none leaves unacknowledged), then heal.
        _net.Faults.Partitioned = true;
        Send(_a, Syns(500, 50));
        Step(20);
        Assert.Empty(Sent(_a));
        Assert.Equal(50, _a.Dp.Pipelines.Sum(p => p.Hold!.Count));
        _net.Faults.Partitioned = false;
        StepUntil(() => _a.Dp.Pipelines.Sum(p => p.Hold!.Count) == 0, 500, "released after heal");
        Assert.Equal(50, Sent(_a).Count);

        // Unplanned failover: A dies. B detects it (probe multiplier), the witness grants term 2.
        StepUntil(() => Flows(_b) == 550, 200, "B has the last flows");
        _a.Alive = false;
        long died = _now;
        StepUntil(() => !_b.Node.PeerUp, 500, "B detects A gone");
        long detected = _now - died;
        Assert.True(detected <= 5 * 20 + 2, $"detected after {detected} ms");
        Assert.Equal(HaState.Standby, StateOf(_b)); // no takeover without the witness
        Assert.False(_b.Node.Command("scope-eni1", new HaEvent(HaEventKind.TakeoverGranted, 2)).Refused);
        Assert.Equal(HaState.Standalone, StateOf(_b));

        // Every flow whose first packet A released is on B: their next packets (not SYNs) pass.
        Send(_b, Syns(0, 550, TcpFlags.Ack));
        Step(30);
        Assert.Equal(550, Sent(_b).Count);
        Assert.Equal(0, _b.Dp.DropsByReason().GetValueOrDefault(DropReason.NoFlow));
    }

    [Fact]
    public void The_standby_redirects_its_scopes_traffic_to_the_active_which_decides_it()
    {
        Pair();
        Send(_b, Syns(0, 10));
        Step(1);
        List<byte[]> redirected = Sent(_b);
        Assert.Equal(10, redirected.Count);
        Assert.Equal(10, _b.Dp.Pipelines.Sum(p => p.Counters.HaRedirected));
        Assert.All(redirected, f => Assert.Equal(Overlay.V4("172.16.2.1"), System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(f.AsSpan(14 + 16))));
        Assert.Equal(0, Flows(_b)); // the standby decided nothing

        Send(_a, redirected);
        StepUntil(() => Flows(_a) == 10 && _a.Dp.Pipelines.Sum(p => p.Hold!.Count) == 0, 100, "A decides the redirected flows");
        Assert.Equal(10, Sent(_a).Count);
        StepUntil(() => Flows(_b) == 10, 100, "and replicates them back to B");
    }

    [Fact]
    public void Aging_is_the_actives_decision_and_deletes_reach_the_standby()
    {
        Pair();
        Send(_a, Enumerable.Range(0, 20).Select(i => Overlay.FromVm("10.1.2.50", sport: (ushort)(2000 + i))));
        StepUntil(() => Flows(_b) == 20, 200, "20 UDP flows on B");
        // UDP flows age after 30 s idle. The standby does not age them on its own...
        foreach (PolicyPipeline p in _b.Dp.Pipelines)
        {
            p.Tick(p.NowMs + 31_000);
        }

        Assert.Equal(20, Flows(_b));
        // ...the active does, and tells it.
        foreach (PolicyPipeline p in _a.Dp.Pipelines)
        {
            p.Tick(p.NowMs + 31_000);
        }

        Assert.Equal(0, Flows(_a));
        StepUntil(() => Flows(_b) == 0, 200, "the deletes reach B");
        Assert.True(_b.Node.Workers.Sum(w => w.Deleted) == 20);
    }

    [Fact]
    public void A_planned_switchover_both_ways_loses_no_packet_and_no_flow()
    {
        Pair();
        uint underlayA = Overlay.V4("172.16.2.1"), underlayB = Overlay.V4("172.16.2.2");
        long injected = 0, delivered = 0;
        int next = 0;

        // The network: frames a card sends to the other card's underlay address reach it;
        // everything else has left the appliance pair (delivered). A connection's next packet is
        // sent only once its SYN was delivered, as a real client would.
        var synDelivered = new Queue<int>();
        void Network()
        {
            foreach ((Card from, Card to, uint toAddress) in new[] { (_a, _b, underlayB), (_b, _a, underlayA) })
            {
                var forward = new List<byte[]>();
                foreach (byte[] f in Sent(from))
                {
                    if (System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(f.AsSpan(14 + 16)) == toAddress)
                    {
                        forward.Add(f);
                        continue;
                    }

                    delivered++;
                    Assert.Equal(DropReason.None, PacketParser.Parse(f, out ParsedPacket p));
                    if ((p.TcpFlags & (byte)TcpFlags.Syn) != 0)
                    {
                        synDelivered.Enqueue(p.SrcPort - 1000);
                    }
                }

                Send(to, forward);
            }
        }

        // Upstream keeps sending to A: new connections, and the next packet of connected ones.
        void Traffic(int steps)
        {
            for (int s = 0; s < steps; s++)
            {
                Send(_a, Syns(next, 4));
                next += 4;
                injected += 4;
                for (int k = 0; k < 4 && synDelivered.TryDequeue(out int flow); k++)
                {
                    Send(_a, Syns(flow, 1, TcpFlags.Ack));
                    injected++;
                }

                Step();
                Network();
            }
        }

        Traffic(50);
        _a.Node.Command("scope-eni1", new HaEvent(HaEventKind.Switchover, 2));
        _b.Node.Command("scope-eni1", new HaEvent(HaEventKind.Switchover, 2));
        for (int s = 0; s < 300 && !(StateOf(_a) == HaState.Standby && StateOf(_b) == HaState.Active); s++)
        {
            Traffic(1);
        }

        Assert.True(StateOf(_a) == HaState.Standby && StateOf(_b) == HaState.Active, History());
        Traffic(50);

        // And back: B hands the scope to A again.
        _b.Node.Command("scope-eni1", new HaEvent(HaEventKind.Switchover, 3));
        _a.Node.Command("scope-eni1", new HaEvent(HaEventKind.Switchover, 3));
        for (int s = 0; s < 300 && !(StateOf(_a) == HaState.Active && StateOf(_b) == HaState.Standby); s++)
        {
            Traffic(1);
        }

        Assert.True(StateOf(_a) == HaState.Active && StateOf(_b) == HaState.Standby,
            $"lag a {_a.Node.Sync.Lag} b {_b.Node.Sync.Lag}, held a {_a.Dp.Pipelines.Sum(p => p.Hold!.Count)} b {_b.Dp.Pipelines.Sum(p => p.Hold!.Count)}\n" + History());
        Traffic(50);
        for (int s = 0; s < 200 && delivered < injected; s++)
        {
            Step();
            Network();
        }

        var drops = _a.Dp.DropsByReason().Concat(_b.Dp.DropsByReason()).Where(d => d.Value > 0).ToList();
        Assert.True(drops.Count == 0, "drops: " + string.Join(", ", drops.Select(d => $"{d.Key} {d.Value}")) + "\n" + History());
        Assert.Equal(injected, delivered);
        Assert.Equal(Flows(_a), Flows(_b)); // both hold every flow
    }
}
