namespace SnicRuntime.Firmware;

/// <summary>
/// Why a packet was dropped. Every drop in the dataplane has exactly one reason and is counted
/// under it (per worker); nothing is dropped silently.
/// </summary>
public enum DropReason : byte
{
    None = 0,

    // Layer 2
    EthernetTruncated,
    VlanTruncated,
    VlanTooManyTags,
    UnsupportedEtherType,
    ArpTruncated,

    // IPv4
    Ipv4Truncated,
    Ipv4BadVersion,
    Ipv4BadHeaderLength,
    Ipv4BadTotalLength,
    Ipv4BadChecksum,
    Ipv4BadOptions,

    // IPv6
    Ipv6Truncated,
    Ipv6BadVersion,
    Ipv6BadPayloadLength,
    Ipv6ExtensionTruncated,
    Ipv6TooManyExtensions,
    Ipv6MisplacedHopByHop,

    // Layer 4
    TcpTruncated,
    TcpBadDataOffset,
    UdpTruncated,
    UdpBadLength,
    IcmpTruncated,

    // Tunnels
    VxlanTruncated,
    VxlanBadFlags,
    GeneveTruncated,
    GeneveBadVersion,
    GeneveBadOptions,
    GreTruncated,
    GreBadHeader,
    TunnelUnsupportedPayload,

    // Flows
    /// <summary>No flow matches and the packet may not create one (a TCP packet that is not a SYN).</summary>
    NoFlow,
    /// <summary>The flow table had no room for a new flow.</summary>
    FlowTableFull,

    // Policy pipeline
    /// <summary>No change plan has been applied yet.</summary>
    NoPolicy,
    /// <summary>Not VXLAN/NVGRE over IPv4 addressed to the appliance's VIP.</summary>
    NotToVip,
    /// <summary>The tunnelled packet is not IPv4/IPv6 (the pipeline forwards IP only).</summary>
    OverlayNotIp,
    /// <summary>No ENI has the packet's MAC (inner source outbound, inner destination inbound).</summary>
    UnknownEni,
    EniAdminDown,
    /// <summary>A terminating deny rule, a trailing deny-and-continue, or no rule matched in a stage (default deny).</summary>
    AclDeny,
    /// <summary>No outbound route covers the destination (or the reply of an inbound flow has none).</summary>
    RouteMiss,
    /// <summary>The matching route's action is drop.</summary>
    RouteDrop,
    /// <summary>The route says vnet but the VNET has no mapping for the destination.</summary>
    MappingMiss,
    /// <summary>No inbound route for the ENI, VNI and underlay source.</summary>
    InboundRouteMiss,
    /// <summary>Inbound PA validation: the underlay source is not a PA of the ENI's VNET.</summary>
    PaValidationFailed,
    /// <summary>Not enough headroom to write the outer headers.</summary>
    EncapNoRoom,
    /// <summary>A service-tunnel packet NAT46/64 cannot translate (ICMP, IPv4 options or fragments, IPv6 extension headers).</summary>
    ServiceTunnelUntranslatable,

    // High availability
    /// <summary>A new flow's first packet could not wait for the standby's acknowledgement: the hold queue was full.</summary>
    HaHoldFull,
    /// <summary>A new flow could not be replicated (the sync outbox was full): not created, so never lost.</summary>
    HaSyncBackpressure,
    /// <summary>Held for an acknowledgement when this card stopped deciding the scope (fenced or stepped down): an unacknowledged flow's packet must not leave from a card that no longer holds the scope.</summary>
    HaFenced,

    // Worker and I/O
    /// <summary>The tx queue refused the packet (ring full or link down).</summary>
    TxRejected,
    /// <summary>The stage chose no port this worker can transmit on.</summary>
    NoEgressPort,

    /// <summary>Not a reason: the number of reasons, for sizing counter arrays.</summary>
    Count,
}
