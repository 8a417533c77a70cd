using SnicRuntime.Firmware.Card;
using SnicRuntime.Firmware.Ha.Channel;
using SnicRuntime.Firmware.Plans;
using System.Net;
using System.Net.Sockets;
using SnicRuntime.Firmware.Flows;
using SnicRuntime.Firmware.Ha;
using SnicRuntime.Firmware.Pipeline;
using SnicRuntime.Firmware.Workers;
using SnicRuntime.Hal;
using SnicRuntime.Hal.Board;
using SnicRuntime.Hal.Net;

namespace SnicRuntime.TestKit.Ha;

/// <summary>
/// One card for the HA benchmarks: the emulated board with one worker, the VNET-to-VNET plan,
/// an HA node on a UDP loopback link (or a given link), scope "scope-eni1" covering eni1.
/// </summary>
public sealed class HaCard : IDisposable
{
    public static readonly byte[] Key = Enumerable.Range(7, 32).Select(i => (byte)i).ToArray();

    /// <summary>The repository root (boards/, examples/): the working directory for bench/run.sh; tests set it.</summary>
    public static string Root { get; set; } = ".";

    /// <param name="enis">ENIs in the plan and in the card's one scope: eni1 of the example plan, and eni2.. copies of it (own MACs).</param>
    public HaCard(uint id, uint peer, IDatagramLink link, HaRole role, long term, int flowCapacity, int probeMs = 20, int multiplier = 5, int enis = 1)
    {
        BoardDefinition board = BoardLoader.Load(Path.Combine(Root, "boards", "emulated", "emulated.json"));
        Store = new PolicyStore(board.Ports.Count);
        string plan = File.ReadAllText(Path.Combine(Root, "examples", "plans", "vnet-to-vnet.json"));
        string copies = string.Concat(Enumerable.Range(2, Math.Max(0, enis - 1)).Select(i =>
            $$"""{ "name": "eni{{i}}", "mac": "00:cc:cc:cc:cc:{{i:x2}}", "vnet": "vnet1", "admin_state": "up", "vm_vni": 100, "vm_underlay_ip": "172.16.1.1", "route_table": "eni1-routes" },"""));
        ApplyResult applied = Store.Apply(plan.Replace("\"enis\": [", "\"enis\": [" + copies, StringComparison.Ordinal));
        if (!applied.Accepted)
        {
            throw new InvalidOperationException("vnet-to-vnet plan refused: " + applied.Errors[0]);
        }

        Dp = Dataplane.Create(board, new DataplaneOptions { Stage = StageKind.Policy, Policy = Store, FlowsPerWorker = flowCapacity, Workers = 1 });
        Node = new HaNode(new HaConfig
        {
            CardId = id,
            PeerId = peer,
            PairingKey = Key,
            Scopes = [new HaScopeConfig("scope-eni1", [.. Enumerable.Range(1, enis).Select(i => $"eni{i}")], role, term)],
            ProbeIntervalMs = probeMs,
            ProbeMultiplier = multiplier,
            LocalUnderlay = 0xAC100200 + id,
            PeerUnderlay = 0xAC100200 + peer,
        }, link, Store, Dp.Pipelines, Dp.WorkerOfFlowHash);
    }

    public PolicyStore Store { get; }

    public Dataplane Dp { get; }

    public HaNode Node { get; }

    public PolicyPipeline Pipeline => Dp.Pipelines[0];

    public HaState State => Node.Scopes[0].State;

    /// <summary>Two UDP links on loopback, each aimed at the other.</summary>
    public static (UdpLink A, UdpLink B) LoopbackPair()
    {
        int pa = FreeUdpPort(), pb = FreeUdpPort();
        return (new UdpLink(new IPEndPoint(IPAddress.Loopback, pa), new IPEndPoint(IPAddress.Loopback, pb)),
                new UdpLink(new IPEndPoint(IPAddress.Loopback, pb), new IPEndPoint(IPAddress.Loopback, pa)));
    }

    private static int FreeUdpPort()
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)s.LocalEndPoint!).Port;
    }

    /// <summary>Puts <paramref name="count"/> established TCP flows of eni1 straight into the worker's table (what traffic would have made).</summary>
    public void Preload(int count, int salt = 0, string eni = "eni1")
    {
        PolicyTables t = Store.Current!;
        for (int f = 0; f < count; f++)
        {
            FlowKeyV4 key = PreloadedKey(f, salt, out bool forward, eni);
            var entry = new FlowEntry { Action = 0, Generation = t.Generation16, Tcp = TcpState.Established, Flags = forward ? FlowFlags.OriginatorIsLow : 0, LastSeenMs = Pipeline.NowMs };
            Pipeline.V4.Insert(key, entry, out _);
        }
    }

    /// <summary>The key of preloaded flow <paramref name="f"/>.</summary>
    public FlowKeyV4 PreloadedKey(int f, int salt, out bool forward, string eniName = "eni1")
    {
        uint eni = (uint)Store.Current!.Enis.First(e => e?.Name == eniName)!.Index;
        return FlowKeyV4.Create(eni, 0x0A010100u + (uint)(f >> 16) + (uint)(salt << 12), 0x0A010232u, (ushort)f, 80, IpProtocols.Tcp, out forward);
    }

    /// <summary>An outbound TCP packet from eni1's VM to 10.1.2.50 (VXLAN to the VIP), with the given source port and flags.</summary>
    public static byte[] Frame(ushort sport, TcpFlags flags, uint src = 0x0A01010A)
    {
        var inner = new byte[14 + 20 + 20];
        HeaderWriter.Ethernet(inner, [0x00, 0xee, 0xee, 0xee, 0xee, 0xee], [0x00, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc], EtherTypes.Ipv4);
        HeaderWriter.Ipv4(inner.AsSpan(14), src, 0x0A010232, IpProtocols.Tcp, 20);
        HeaderWriter.Tcp(inner.AsSpan(34), sport, 80, 1, flags.HasFlag(TcpFlags.Ack) ? 1u : 0u, flags);
        HeaderWriter.FinishL4Checksum(inner.AsSpan(14), inner.AsSpan(34), false, IpProtocols.Tcp);
        var f = new byte[50 + inner.Length];
        int o = HeaderWriter.Ethernet(f, [0x02, 0, 0, 0, 1, 0], [0x02, 0, 0, 0, 0, 0x99], EtherTypes.Ipv4);
        o += HeaderWriter.Ipv4(f.AsSpan(o), 0xAC100101, 0xAC100164, IpProtocols.Udp, 16 + inner.Length, ttl: 63);
        o += HeaderWriter.Udp(f.AsSpan(o), 50000, TunnelPorts.Vxlan, 8 + inner.Length);
        o += HeaderWriter.Vxlan(f.AsSpan(o), 100);
        inner.CopyTo(f, o);
        return f;
    }

    public void Inject(byte[] frame)
    {
        Span<PacketRef> one = stackalloc PacketRef[1];
        if (Dp.Pool.AllocBulk(one) != 1)
        {
            throw new InvalidOperationException("packet pool empty");
        }

        one[0].SetLength(frame.Length);
        frame.CopyTo(one[0].Data);
        Dp.EmulatedPort(0).Inject(one);
    }

    /// <summary>Frames transmitted on the uplink, freed; returns how many.</summary>
    public int DrainUplink()
    {
        Span<PacketRef> buffer = stackalloc PacketRef[64];
        int total = 0, n;
        while ((n = Dp.EmulatedPort(0).Drain(buffer)) > 0)
        {
            Dp.Pool.FreeBulk(buffer[..n]);
            total += n;
        }

        return total;
    }

    public void Dispose()
    {
        Node.Dispose();
        Dp.Dispose();
    }
}
