using SnicRuntime.Firmware.Card;
using SnicRuntime.Firmware.Flows;
using SnicRuntime.Firmware.Parsing;
using SnicRuntime.Firmware.Workers;
using SnicRuntime.Firmware;
using SnicRuntime.Hal;
using SnicRuntime.Hal.Board;
using SnicRuntime.Hal.Emulated;
using SnicRuntime.Hal.Net;
using SnicRuntime.TestKit;
using Xunit;

namespace SnicRuntime.Tests.Firmware.Flows;

/// <summary>The flow table inside the workers: one flow per connection, both directions, slow path on a miss, aging.</summary>
public class FlowStageTests
{
    private static BoardDefinition Board(int cores = 2) => TestBoards.Emulated(cores);

    private static void Pump(Dataplane dp, PacketRef[] burst)
    {
        foreach (IWorker w in dp.Workers)
        {
            w.PollOnce();
        }

        int got;
        while ((got = dp.EmulatedPort(1).Drain(burst)) > 0)
        {
            dp.Pool.FreeBulk(burst.AsSpan(0, got));
        }
    }

    [Fact]
    public void Each_connection_makes_one_flow_that_both_directions_hit()
    {
        using Dataplane dp = Dataplane.Create(Board(2), new DataplaneOptions { FlowsPerWorker = 8192 });
        var gen = new TrafficGenerator(new TrafficProfile { Flows = 200, DataPacketsPerFlow = 4 }, dp.Pool);
        var burst = new PacketRef[32];
        var connections = new HashSet<(uint, uint, bool)>();
        long packets = 0;
        for (int round = 0; round < 150; round++)
        {
            int n = gen.Fill(burst);
            for (int i = 0; i < n; i++)
            {
                PacketParser.Parse(burst[i].Data, out ParsedPacket p);
                connections.Add((p.FlowHash, p.IsTunneled ? p.Vni : 0, p.IsIpv6));
            }

            packets += n;
            dp.EmulatedPort(0).Inject(burst.AsSpan(0, n));
            Pump(dp, burst);
        }

        FlowSummary f = dp.FlowTotals();
        Assert.Equal(connections.Count, f.Created);
        Assert.Equal(packets, f.Hits + f.Misses);
        Assert.Equal(f.Created, f.Misses);
        Assert.Equal(packets, dp.TotalCounters().TxPackets);
        Assert.True(f.Hits > f.Created * 4, "replies and data should hit the flow the first packet made");
    }

    private static PacketRef Tcp(PacketPool pool, TcpFlags flags, bool reply)
    {
        Assert.True(pool.TryAlloc(out PacketRef p));
        p.SetLength(54);
        Span<byte> f = p.Data;
        byte[] mac = [2, 0, 0, 0, 0, 1];
        HeaderWriter.Ethernet(f, mac, mac, EtherTypes.Ipv4);
        HeaderWriter.Ipv4(f[14..], reply ? 0x0A000002u : 0x0A000001u, reply ? 0x0A000001u : 0x0A000002u, IpProtocols.Tcp, 20);
        HeaderWriter.Tcp(f[34..], reply ? (ushort)80 : (ushort)5555, reply ? (ushort)5555 : (ushort)80, 1, 1, flags);
        HeaderWriter.FinishL4Checksum(f[14..], f[34..], false, IpProtocols.Tcp);
        return p;
    }

    [Fact]
    public void Tcp_without_a_syn_cannot_open_a_flow_but_its_reply_direction_uses_one()
    {
        using Dataplane dp = Dataplane.Create(Board(1), new DataplaneOptions { FlowsPerWorker = 1024 });
        var burst = new PacketRef[32];
        dp.EmulatedPort(0).Inject([Tcp(dp.Pool, TcpFlags.Ack, reply: false)]);
        Pump(dp, burst);
        Assert.Equal(1, dp.DropsByReason()[DropReason.NoFlow]);
        Assert.Equal(0, dp.FlowTotals().Created);

        dp.EmulatedPort(0).Inject([Tcp(dp.Pool, TcpFlags.Syn, reply: false), Tcp(dp.Pool, TcpFlags.Syn | TcpFlags.Ack, reply: true), Tcp(dp.Pool, TcpFlags.Ack, reply: false)]);
        Pump(dp, burst);
        FlowSummary f = dp.FlowTotals();
        Assert.Equal(1, f.Created);
        Assert.Equal(2, f.Hits);
        Assert.Equal(3, dp.TotalCounters().TxPackets);
        var table = dp.WorkerFlowTables[0].V4;
        var records = new FlowRecord<FlowKeyV4>[8];
        Assert.Equal(1, table.ReadFlows(0, records, out _));
        Assert.Equal(TcpState.Established, records[0].Entry.Tcp);
        Assert.Equal(3u, records[0].Entry.Packets);
        Assert.Equal(dp.Pool.BufferCount, dp.Pool.Available);
    }

    [Fact]
    public void Workers_age_idle_flows_on_their_clock()
    {
        var aging = new AgingPolicy { TickMs = 1, UdpMs = 30, IcmpMs = 30, TcpHandshakeMs = 30, TcpClosingMs = 30, TcpEstablishedMs = 30 };
        using Dataplane dp = Dataplane.Create(Board(1), new DataplaneOptions { FlowsPerWorker = 4096, Aging = aging });
        var gen = new TrafficGenerator(new TrafficProfile { Flows = 50 }, dp.Pool);
        var burst = new PacketRef[32];
        int n = gen.Fill(burst);
        dp.EmulatedPort(0).Inject(burst.AsSpan(0, n));
        Pump(dp, burst);
        Assert.True(dp.FlowTotals().Active > 0);
        Thread.Sleep(100);
        Pump(dp, burst); // the poll advances the wheel
        FlowSummary f = dp.FlowTotals();
        Assert.Equal(0, f.Active);
        Assert.Equal(f.Created, f.Aged);
    }
}
