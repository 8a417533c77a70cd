namespace SnicRuntime.Hal.Emulated;

/// <summary>
/// What traffic the generator makes. Defaults resemble what a DASH appliance sees: half the flows
/// arrive VXLAN-encapsulated at the VIP, a mix of TCP (full handshake, data, FIN), UDP and ICMP,
/// IPv4 and IPv6.
/// </summary>
public sealed record TrafficProfile
{
    /// <summary>Flows alive at once; a finished flow is replaced by a new 5-tuple.</summary>
    public int Flows { get; init; } = 1024;

    /// <summary>Packets per second; 0 = as fast as the pool and the port take them.</summary>
    public long RatePps { get; init; }

    public ulong Seed { get; init; } = 1;

    public double Ipv6Share { get; init; } = 0.25;

    public double UdpShare { get; init; } = 0.30;

    public double IcmpShare { get; init; } = 0.05;

    /// <summary>Share of flows that arrive VXLAN-encapsulated (overlay traffic).</summary>
    public double OverlayShare { get; init; } = 0.5;

    /// <summary>Data packets per flow (TCP after the handshake; UDP and ICMP in total).</summary>
    public int DataPacketsPerFlow { get; init; } = 6;

    public int PayloadBytes { get; init; } = 64;

    /// <summary>VNI of overlay traffic.</summary>
    public uint Vni { get; init; } = 1000;

    /// <summary>Outer destination of overlay traffic: the appliance VIP (IPv4, host order).</summary>
    public uint Vip { get; init; } = 0x64400001; // 100.64.0.1

    /// <summary>
    /// When set, every flow is DASH overlay traffic between a VM behind one of the card's ENIs
    /// (the client) and a remote VM (the server), with the addresses, MACs, hosts and VNIs a
    /// change plan gives them; IPv4 only. When null, addresses are synthetic.
    /// </summary>
    public DashEndpoints? Dash { get; init; }

    /// <summary>Lists what is wrong with the profile; empty when it is usable.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (Flows is < 1 or > 16_000_000)
        {
            errors.Add($"flows: {Flows} is outside 1..16000000");
        }

        if (RatePps < 0)
        {
            errors.Add($"rate: {RatePps} pps is negative");
        }

        foreach ((string name, double v) in new[] { ("ipv6Share", Ipv6Share), ("udpShare", UdpShare), ("icmpShare", IcmpShare), ("overlayShare", OverlayShare) })
        {
            if (v is < 0 or > 1 || double.IsNaN(v))
            {
                errors.Add($"{name}: {v} is outside 0..1");
            }
        }

        if (UdpShare + IcmpShare > 1)
        {
            errors.Add($"udpShare + icmpShare = {UdpShare + IcmpShare} exceeds 1");
        }

        if (DataPacketsPerFlow is < 1 or > 1_000_000)
        {
            errors.Add($"dataPacketsPerFlow: {DataPacketsPerFlow} is outside 1..1000000");
        }

        if (PayloadBytes is < 0 or > 1400)
        {
            errors.Add($"payloadBytes: {PayloadBytes} is outside 0..1400");
        }

        if (Vni > 0xFFFFFF)
        {
            errors.Add($"vni: {Vni} does not fit in 24 bits");
        }

        if (Dash is { } d && (d.LocalVms.Count == 0 || d.RemoteVms.Count == 0 || d.OutboundVni > 0xFFFFFF || d.InboundVni > 0xFFFFFF))
        {
            errors.Add("dash: needs at least one local and one remote VM, and 24-bit VNIs");
        }

        return errors;
    }
}

/// <summary>A VM as overlay traffic sees it: its MAC, its IPv4 overlay address (CA) and its host's underlay address (PA), host order.</summary>
public readonly record struct DashVm(ulong Mac, uint Ca, uint Pa);

/// <summary>
/// DASH endpoints for generated traffic: VMs behind the card's ENIs send with
/// <see cref="OutboundVni"/>; remote VMs answer with <see cref="InboundVni"/>.
/// </summary>
public sealed record DashEndpoints(IReadOnlyList<DashVm> LocalVms, IReadOnlyList<DashVm> RemoteVms, uint OutboundVni, uint InboundVni);
