using SnicRuntime.Contracts.Plans;

namespace SnicRuntime.Management.Fleet;

/// <summary>
/// The share of a plan one card needs: the ENIs placed on its HA set and everything they
/// reference — their VNETs, route tables, ACL groups, the ECMP groups, meter classes, service
/// tunnels and VNETs their routes name, and the mappings of every VNET kept. The appliance and the
/// direction lookup are the card's own and always kept. A slice of a valid plan is a valid plan:
/// references stay closed, so the card validates it as a whole like any plan.
/// </summary>
public static class PlanSlice
{
    public static ChangePlan For(ChangePlan plan, IReadOnlySet<string> enis)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(enis);
        List<EniSpec> kept = [.. (plan.Enis ?? []).Where(e => e.Name is not null && enis.Contains(e.Name))];
        var tables = new HashSet<string>(kept.Select(e => e.RouteTable).OfType<string>(), StringComparer.Ordinal);
        var acls = new HashSet<string>(kept.SelectMany(e => AclNames(e.Acl)), StringComparer.Ordinal);
        List<RouteTableSpec> routeTables = [.. (plan.RouteTables ?? []).Where(t => t.Name is not null && tables.Contains(t.Name))];
        List<RouteSpec> routes = [.. routeTables.SelectMany(t => t.Routes ?? [])];
        var vnets = new HashSet<string>(kept.Select(e => e.Vnet).Concat(routes.Select(r => r.Vnet)).OfType<string>(), StringComparer.Ordinal);
        var ecmp = new HashSet<string>(routes.Select(r => r.EcmpGroup).OfType<string>(), StringComparer.Ordinal);
        var tunnels = new HashSet<string>(routes.Select(r => r.ServiceTunnel).OfType<string>(), StringComparer.Ordinal);
        var meters = new HashSet<long>(routes.Select(r => r.MeterClass).OfType<long>());
        return new ChangePlan
        {
            Generation = plan.Generation,
            Appliance = plan.Appliance,
            DirectionLookup = plan.DirectionLookup,
            Vnets = Keep(plan.Vnets, v => v.Name is not null && vnets.Contains(v.Name)),
            Enis = plan.Enis is null ? null : kept,
            AclGroups = Keep(plan.AclGroups, g => g.Name is not null && acls.Contains(g.Name)),
            RouteTables = plan.RouteTables is null ? null : routeTables,
            Mappings = Keep(plan.Mappings, m => m.Vnet is not null && vnets.Contains(m.Vnet)),
            EcmpGroups = Keep(plan.EcmpGroups, g => g.Name is not null && ecmp.Contains(g.Name)),
            MeterClasses = Keep(plan.MeterClasses, m => m.Id is long id && meters.Contains(id)),
            ServiceTunnels = Keep(plan.ServiceTunnels, t => t.Name is not null && tunnels.Contains(t.Name)),
        };
    }

    private static IEnumerable<string> AclNames(EniAclSpec? acl) =>
        acl is null ? [] : new[] { acl.OutboundV4, acl.InboundV4, acl.OutboundV6, acl.InboundV6 }.SelectMany(l => l ?? []).OfType<string>();

    private static List<T>? Keep<T>(List<T>? all, Func<T, bool> keep) => all is null ? null : [.. all.Where(keep)];
}
