using SnicRuntime.Contracts.Plans;

namespace SnicRuntime.Firmware.Encap;

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
/// <para><see cref="Service"/>: index into the generation's service tunnels for
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
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(service, PlanLimits.MaxServiceTunnels); // the 16-bit field below
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
