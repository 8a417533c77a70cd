using SnicRuntime.Firmware.Acl;
using SnicRuntime.Firmware.Plans;
using SnicRuntime.Firmware.Routing;

namespace SnicRuntime.Firmware.Pipeline;

/// <summary>What an outbound action does to the packet.</summary>
public enum TunnelActionKind : byte
{
    /// <summary>Replace the outer headers: tunnel to <see cref="TunnelAction.UnderlayDestination"/>.</summary>
    Encap,
    /// <summary>Remove the outer headers and send the inner frame to the underlay next hop (route action "direct").</summary>
    Direct,
    /// <summary>Translate the inner IPv4 packet to IPv6 (NAT46), then encapsulate (route action "service-tunnel").</summary>
    ServiceTunnel,
}

public enum EncapKind : byte
{
    Vxlan,
    Nvgre,
}

/// <summary>
/// One compiled outbound action, shared by every flow that resolves to it (one per mapping, per
/// ECMP member, per direct route). Flows store its index, so a generation's action table is the
/// only place tunnel parameters live.
/// </summary>
/// <remarks>
/// <para>Packed into 16 bytes, four to a cache line: with a million mappings the fast path reads
/// one record at random per packet, and a smaller table is fewer lines and fewer pages to miss on.</para>
/// <code>
///  0                               6          8             12                   15   16
///  | inner destination MAC (48 bits) | service | underlay dst | VNI (24 bits)      |kind|encap|
/// </code>
/// <para><see cref="Service"/>: index into <see cref="PolicyTables.ServiceTunnels"/> for
/// service-tunnel actions, -1 otherwise (stored as 0xFFFF).</para>
/// </remarks>
public readonly record struct TunnelAction
{
    private const ushort NoService = 0xFFFF;

    private readonly ulong _macService;
    private readonly uint _underlay;
    private readonly uint _vniKind;

    public TunnelAction(TunnelActionKind kind, EncapKind encap, uint underlayDestination, uint vni, ulong innerDestinationMac, int service = -1)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(vni, 0xFF_FFFFu);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(innerDestinationMac, 0xFFFF_FFFF_FFFFUL);
        ArgumentOutOfRangeException.ThrowIfLessThan(service, -1);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(service, PolicyTables.MaxServiceTunnels);
        _macService = innerDestinationMac | (ulong)(service < 0 ? NoService : (ushort)service) << 48;
        _underlay = underlayDestination;
        _vniKind = vni | (uint)kind << 24 | (uint)encap << 28;
    }

    public TunnelActionKind Kind => (TunnelActionKind)((_vniKind >> 24) & 0xF);

    public EncapKind Encap => (EncapKind)(_vniKind >> 28);

    public uint UnderlayDestination => _underlay;

    public uint Vni => _vniKind & 0xFF_FFFF;

    public ulong InnerDestinationMac => _macService & 0xFFFF_FFFF_FFFFUL;

    public int Service
    {
        get
        {
            ushort s = (ushort)(_macService >> 48);
            return s == NoService ? -1 : s;
        }
    }
}

/// <summary>A compiled service tunnel: the /96 prefixes that embed IPv4 addresses on each side.</summary>
public sealed record ServiceTunnel(string Name, UInt128 SourcePrefix, UInt128 DestinationPrefix, int Action);

public enum RouteKind : byte
{
    Vnet,
    VnetDirect,
    Direct,
    Drop,
    ServiceTunnel,
}

/// <summary>A compiled route: what to do for destinations under its prefix. A struct, so a route table's routes sit in one array (one cache line per lookup, no pointer chase).</summary>
/// <remarks><see cref="EcmpActions"/>: the action of each member of the route's ECMP group (null when the route has none).</remarks>
public readonly record struct Route(RouteKind Kind, int Vnet, IpPrefix? OverlayIp, int[]? EcmpActions, byte MeterClass, int ServiceAction = -1);

/// <summary>An ENI's outbound route table: LPM per family to an index into <see cref="Routes"/>.</summary>
public sealed record RouteTable(string Name, IntervalMap<uint> V4, Lpm6 V6, Route[] Routes);

public enum InboundRouteAction : byte
{
    Decap,
    DecapPaValidate,
}

public readonly record struct InboundRoute(uint Vni, uint UnderlayFirst, uint UnderlayLast, int Length, InboundRouteAction Action);

/// <summary>An ENI in compiled form. Index is stable across generations for the same name (flows are keyed by it).</summary>
public sealed class Eni
{
    public required string Name { get; init; }
    public required int Index { get; init; }
    public required bool AdminUp { get; init; }
    public required int Vnet { get; init; }
    public required uint VmVni { get; init; }
    public required uint VmUnderlayIp { get; init; }
    public RouteTable? RouteTable { get; init; }
    public required AclGroup<uint>?[] OutboundV4 { get; init; }
    public required AclGroup<uint>?[] InboundV4 { get; init; }
    public required AclGroup<UInt128>?[] OutboundV6 { get; init; }
    public required AclGroup<UInt128>?[] InboundV6 { get; init; }
    public required InboundRoute[] InboundRoutes { get; init; }
    /// <summary>Static NAT, internal → external and back (IPv4 overlay addresses); null when the ENI has none.</summary>
    public U64Map? NatOut { get; init; }
    public U64Map? NatIn { get; init; }
}

/// <summary>
/// One configuration generation compiled into immutable lookup structures. Workers read the
/// current instance once per burst (one volatile read) and use it without locks; a new plan
/// builds a new instance and swaps the reference.
/// </summary>
public sealed class PolicyTables
{
    /// <summary>ENI indices are flow-key scopes and counter slots: at most this many ENIs.</summary>
    public const int MaxEnis = 1024;

    /// <summary>Meter classes 0..MaxMeterClasses-1 (a flow's action word keeps the class in its top 8 bits).</summary>
    public const int MaxMeterClasses = 16;

    /// <summary>Service tunnels a plan may hold (an action keeps the index in 16 bits).</summary>
    public const int MaxServiceTunnels = 0xFFFE;

    /// <summary>Action index meaning "no outbound action" (a reply the policy could not route).</summary>
    public const uint NoAction = 0xFFFFFF;

    public required long Generation { get; init; }
    public required uint Vip { get; init; }
    public required ulong ApplianceMac { get; init; }
    public required ulong NeighborMac { get; init; }
    public required int UplinkPort { get; init; }
    public required U64Map OutboundVnis { get; init; }
    public required U64Map EniByMac { get; init; }
    /// <summary>By ENI index (holes where an index is free).</summary>
    public required Eni?[] Enis { get; init; }
    public required string[] VnetNames { get; init; }
    public required uint[] VnetVnis { get; init; }
    /// <summary>(VNET index &lt;&lt; 32 | IPv4 CA) → action index.</summary>
    public required U64Map Mappings4 { get; init; }
    public required Dictionary<(int Vnet, UInt128 Ca), int> Mappings6 { get; init; }
    /// <summary>(VNET index &lt;&lt; 32 | PA) for PA validation.</summary>
    public required U64Map KnownPas { get; init; }
    public required ActionTable Actions { get; init; }
    /// <summary>Index of the shared "direct" action (decap, send to the underlay next hop).</summary>
    public required int DirectAction { get; init; }
    public required string[] MeterClassNames { get; init; }
    public required ServiceTunnel[] ServiceTunnels { get; init; }
    public required ChangePlan Source { get; init; }

    public ushort Generation16 => (ushort)Generation;

    public int EniCount => Enis.Count(e => e is not null);

    public Eni? FindEni(string name) => Enis.FirstOrDefault(e => e?.Name == name);
}
