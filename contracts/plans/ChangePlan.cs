namespace SnicRuntime.Contracts.Plans;

// The change-plan document as JSON sees it (snake_case names, schema in docs/change-plan.md).
// Every field is nullable: the validator, not the JSON reader, decides what is missing, so a plan
// with five mistakes gets five errors with their paths instead of the first exception.

/// <summary>A whole configuration: every object of the DASH model the card should hold, at one generation.</summary>
public sealed class ChangePlan
{
    /// <summary>Monotonic version; the card refuses a plan older than the one it runs.</summary>
    public long? Generation { get; set; }

    public ApplianceSpec? Appliance { get; set; }

    /// <summary>VNIs whose traffic is outbound (from VMs); every other VNI is inbound (DASH's direction lookup).</summary>
    public List<DirectionSpec>? DirectionLookup { get; set; }

    public List<VnetSpec>? Vnets { get; set; }

    public List<EniSpec>? Enis { get; set; }

    public List<AclGroupSpec>? AclGroups { get; set; }

    public List<RouteTableSpec>? RouteTables { get; set; }

    public List<MappingSpec>? Mappings { get; set; }

    public List<EcmpGroupSpec>? EcmpGroups { get; set; }

    public List<MeterClassSpec>? MeterClasses { get; set; }

    public List<ServiceTunnelSpec>? ServiceTunnels { get; set; }

    /// <summary>
    /// The same objects at another generation, in a new plan (the lists are shared, not copied):
    /// one share sent to two cards is numbered per card without either touching the other's.
    /// A property added above must be added here.
    /// </summary>
    public ChangePlan At(long? generation) => new()
    {
        Generation = generation, Appliance = Appliance, DirectionLookup = DirectionLookup, Vnets = Vnets, Enis = Enis, AclGroups = AclGroups,
        RouteTables = RouteTables, Mappings = Mappings, EcmpGroups = EcmpGroups, MeterClasses = MeterClasses, ServiceTunnels = ServiceTunnels,
    };
}

public sealed class ApplianceSpec
{
    /// <summary>The appliance's underlay IPv4 address: overlay traffic is sent to it and leaves from it.</summary>
    public string? Vip { get; set; }

    public string? Mac { get; set; }

    /// <summary>Underlay next hop's MAC: destination of every frame the card emits.</summary>
    public string? NeighborMac { get; set; }

    /// <summary>Port every processed packet leaves by; absent = the port it arrived on (one-armed, as a DASH smart-switch DPU).</summary>
    public int? UplinkPort { get; set; }
}

public sealed class DirectionSpec
{
    public long? Vni { get; set; }

    /// <summary>"outbound" or "inbound".</summary>
    public string? Direction { get; set; }
}

public sealed class VnetSpec
{
    public string? Name { get; set; }

    public long? Vni { get; set; }
}

public sealed class EniSpec
{
    public string? Name { get; set; }

    /// <summary>The VM's MAC: outbound packets are matched by inner source MAC, inbound by inner destination MAC.</summary>
    public string? Mac { get; set; }

    public string? Vnet { get; set; }

    /// <summary>"up" (default) or "down".</summary>
    public string? AdminState { get; set; }

    /// <summary>VNI used when delivering inbound traffic to the VM's host.</summary>
    public long? VmVni { get; set; }

    /// <summary>Underlay IPv4 of the VM's host (outer destination of inbound deliveries).</summary>
    public string? VmUnderlayIp { get; set; }

    public string? RouteTable { get; set; }

    public EniAclSpec? Acl { get; set; }

    public List<InboundRouteSpec>? InboundRoutes { get; set; }

    public List<StaticNatSpec>? StaticNat { get; set; }
}

/// <summary>ACL groups per stage (up to 3, evaluated in order; null = stage skipped), per direction and family.</summary>
public sealed class EniAclSpec
{
    public List<string?>? OutboundV4 { get; set; }

    public List<string?>? InboundV4 { get; set; }

    public List<string?>? OutboundV6 { get; set; }

    public List<string?>? InboundV6 { get; set; }
}

public sealed class InboundRouteSpec
{
    public long? Vni { get; set; }

    /// <summary>Underlay source prefix the packet must come from (absent = any).</summary>
    public string? UnderlayPrefix { get; set; }

    /// <summary>"decap" or "decap-pa-validate" (the outer source must be a PA of a mapping in the ENI's VNET).</summary>
    public string? Action { get; set; }
}

public sealed class StaticNatSpec
{
    /// <summary>The VM's own (overlay) address.</summary>
    public string? Internal { get; set; }

    /// <summary>The address the rest of the VNET sees instead.</summary>
    public string? External { get; set; }
}

public sealed class AclGroupSpec
{
    public string? Name { get; set; }

    /// <summary>"ipv4" or "ipv6".</summary>
    public string? Family { get; set; }

    public List<AclRuleSpec>? Rules { get; set; }
}

public sealed class AclRuleSpec
{
    public long? Priority { get; set; }

    /// <summary>"permit", "deny", "permit-and-continue", "deny-and-continue".</summary>
    public string? Action { get; set; }

    public List<string>? Src { get; set; }

    public List<string>? Dst { get; set; }

    public List<long>? Protocols { get; set; }

    /// <summary>"80" or "1000-2000".</summary>
    public List<string>? SrcPorts { get; set; }

    public List<string>? DstPorts { get; set; }
}

public sealed class RouteTableSpec
{
    public string? Name { get; set; }

    public List<RouteSpec>? Routes { get; set; }
}

public sealed class RouteSpec
{
    public string? Prefix { get; set; }

    /// <summary>"vnet", "vnet-direct", "direct", "drop" or "service-tunnel".</summary>
    public string? Action { get; set; }

    /// <summary>VNET whose mappings resolve the destination (vnet, vnet-direct).</summary>
    public string? Vnet { get; set; }

    /// <summary>vnet-direct: the overlay address to resolve instead of the packet's destination.</summary>
    public string? OverlayIp { get; set; }

    /// <summary>vnet: tunnel to a member of this group (consistent hash of the flow) instead of resolving a mapping.</summary>
    public string? EcmpGroup { get; set; }

    public long? MeterClass { get; set; }

    /// <summary>service-tunnel: the tunnel (NAT46 + encap) IPv4 destinations under this prefix go through.</summary>
    public string? ServiceTunnel { get; set; }
}

public sealed class MappingSpec
{
    public string? Vnet { get; set; }

    /// <summary>Overlay (customer) address, IPv4 or IPv6.</summary>
    public string? Ip { get; set; }

    /// <summary>Underlay (provider) IPv4 address of the host holding the VM.</summary>
    public string? UnderlayIp { get; set; }

    /// <summary>Inner destination MAC to write (the remote VM's MAC).</summary>
    public string? Mac { get; set; }

    /// <summary>VNI to encapsulate with (default: the VNET's).</summary>
    public long? Vni { get; set; }

    /// <summary>"vxlan" (default) or "nvgre".</summary>
    public string? Encap { get; set; }
}

public sealed class EcmpGroupSpec
{
    public string? Name { get; set; }

    /// <summary>Underlay IPv4 addresses of the members.</summary>
    public List<string>? Members { get; set; }
}

public sealed class MeterClassSpec
{
    public long? Id { get; set; }

    public string? Name { get; set; }
}

/// <summary>
/// A service reached over IPv6 from IPv4 VMs (NAT46 out, NAT64 back): the VM's address is
/// embedded in <see cref="OverlaySrcPrefix"/>, the destination's in <see cref="OverlayDstPrefix"/>
/// (both /96), and the translated packet is tunnelled to <see cref="UnderlayIp"/>.
/// </summary>
public sealed class ServiceTunnelSpec
{
    public string? Name { get; set; }

    public string? OverlaySrcPrefix { get; set; }

    public string? OverlayDstPrefix { get; set; }

    public string? UnderlayIp { get; set; }

    public long? Vni { get; set; }

    /// <summary>Inner destination MAC to write (optional).</summary>
    public string? Mac { get; set; }
}
