namespace SnicRuntime.Firmware.Parsing;

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

    // Worker and I/O
    /// <summary>The tx queue refused the packet (ring full or link down).</summary>
    TxRejected,
    /// <summary>The stage chose no port this worker can transmit on.</summary>
    NoEgressPort,

    /// <summary>Not a reason: the number of reasons, for sizing counter arrays.</summary>
    Count,
}
