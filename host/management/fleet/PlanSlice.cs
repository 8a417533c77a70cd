using SnicRuntime.Contracts.Plans;

namespace SnicRuntime.Management.Fleet;

/// <summary>
/// The share of a plan one card needs: the ENIs placed on its HA set and everything they
/// reference — their VNETs, route tables, ACL groups, the ECMP groups, meter classes, service
/// tunnels and VNETs their routes name, and the mappings of every VNET kept. The appliance and the
/// direction lookup are the card's own and always kept. A slice of a valid plan is a valid plan:
/// references stay closed, so the card validates it as a whole like any plan.
///
/// A slice costs what the share holds, not what the plan holds: the plan is indexed once
/// (<see cref="Index"/>) and every set's share is cut from the index, so a round over 5,000 sets
/// of a 10,000-ENI plan does not scan the plan 5,000 times. Objects keep their plan order.
/// </summary>
public sealed class PlanSlice
{
    private readonly ChangePlan _plan;
    private readonly Dictionary<string, int> _enis, _vnets, _tables, _acls, _ecmp, _tunnels;
    private readonly Dictionary<long, int> _meters;
    private readonly Dictionary<string, List<int>> _mappingsByVnet;

    private PlanSlice(ChangePlan plan)
    {
        _plan = plan;
        _enis = ByName(plan.Enis, e => e.Name);
        _vnets = ByName(plan.Vnets, v => v.Name);
        _tables = ByName(plan.RouteTables, t => t.Name);
        _acls = ByName(plan.AclGroups, g => g.Name);
        _ecmp = ByName(plan.EcmpGroups, g => g.Name);
        _tunnels = ByName(plan.ServiceTunnels, t => t.Name);
        _meters = [];
        for (int i = 0; i < (plan.MeterClasses?.Count ?? 0); i++)
        {
            _meters.TryAdd(plan.MeterClasses![i].Id ?? long.MinValue, i);
        }

        _mappingsByVnet = new(StringComparer.Ordinal);
        for (int i = 0; i < (plan.Mappings?.Count ?? 0); i++)
        {
            if (plan.Mappings![i].Vnet is string vnet)
            {
                (_mappingsByVnet.TryGetValue(vnet, out List<int>? list) ? list : _mappingsByVnet[vnet] = []).Add(i);
            }
        }
    }

    /// <summary>Indexes a plan for cutting many shares from it.</summary>
    public static PlanSlice Index(ChangePlan plan) => new(plan ?? throw new ArgumentNullException(nameof(plan)));

    /// <summary>One share of a plan (indexes it for this one cut).</summary>
    public static ChangePlan For(ChangePlan plan, IReadOnlySet<string> enis) => Index(plan).Share(enis);

    /// <summary>What every share depends on (the card-wide objects): <see cref="PlanObjects.Owner"/> of the appliance and the direction lookup.</summary>
    public const string Everyone = PlanObjects.Everyone;

    /// <summary>
    /// The share of the ENIs in <paramref name="enis"/>: a plan of its own. <paramref name="owners"/>,
    /// when given, receives every owner the share looked up (<see cref="PlanObjects.Owner"/>: the
    /// ENIs, VNETs, tables, groups and the rest it names, found or not), so a cache of shares knows
    /// which to cut again when an object changes.
    /// </summary>
    public ChangePlan Share(IReadOnlySet<string> enis, ISet<string>? owners = null)
    {
        ArgumentNullException.ThrowIfNull(enis);
        List<EniSpec> kept = Pick(_plan.Enis, _enis, enis);
        List<RouteTableSpec> routeTables = Pick(_plan.RouteTables, _tables, kept.Select(e => e.RouteTable));
        List<RouteSpec> routes = [.. routeTables.SelectMany(t => t.Routes ?? [])];
        var vnets = new HashSet<string>(kept.Select(e => e.Vnet).Concat(routes.Select(r => r.Vnet)).OfType<string>(), StringComparer.Ordinal);
        var mappings = vnets.SelectMany(v => _mappingsByVnet.GetValueOrDefault(v) ?? []).Order().Select(i => _plan.Mappings![i]);
        if (owners is not null)
        {
            owners.Add(Everyone);
            owners.UnionWith(enis.Select(e => "enis/" + e));
            owners.UnionWith(kept.Select(e => e.RouteTable).OfType<string>().Select(t => "route_tables/" + t));
            owners.UnionWith(vnets.Select(v => "vnets/" + v));
            owners.UnionWith(kept.SelectMany(e => AclNames(e.Acl)).Select(g => "acl_groups/" + g));
            owners.UnionWith(routes.Select(r => r.EcmpGroup).OfType<string>().Select(g => "ecmp_groups/" + g));
            owners.UnionWith(routes.Select(r => r.MeterClass).OfType<long>().Select(m => "meter_classes/" + m));
            owners.UnionWith(routes.Select(r => r.ServiceTunnel).OfType<string>().Select(t => "service_tunnels/" + t));
        }

        return new ChangePlan
        {
            Generation = _plan.Generation,
            Appliance = _plan.Appliance,
            DirectionLookup = _plan.DirectionLookup,
            Vnets = _plan.Vnets is null ? null : Pick(_plan.Vnets, _vnets, vnets),
            Enis = _plan.Enis is null ? null : kept,
            AclGroups = _plan.AclGroups is null ? null : Pick(_plan.AclGroups, _acls, kept.SelectMany(e => AclNames(e.Acl))),
            RouteTables = _plan.RouteTables is null ? null : routeTables,
            Mappings = _plan.Mappings is null ? null : [.. mappings],
            EcmpGroups = _plan.EcmpGroups is null ? null : Pick(_plan.EcmpGroups, _ecmp, routes.Select(r => r.EcmpGroup)),
            MeterClasses = _plan.MeterClasses is null ? null
                : [.. routes.Select(r => r.MeterClass).OfType<long>().Distinct().Select(m => _meters.TryGetValue(m, out int i) ? i : -1)
                    .Where(i => i >= 0).Order().Select(i => _plan.MeterClasses[i])],
            ServiceTunnels = _plan.ServiceTunnels is null ? null : Pick(_plan.ServiceTunnels, _tunnels, routes.Select(r => r.ServiceTunnel)),
        };
    }

    /// <summary>The named objects, once each, in plan order.</summary>
    private static List<T> Pick<T>(List<T>? all, Dictionary<string, int> index, IEnumerable<string?> names) =>
        all is null ? [] : [.. names.OfType<string>().Distinct(StringComparer.Ordinal)
            .Select(n => index.TryGetValue(n, out int i) ? i : -1).Where(i => i >= 0).Order().Select(i => all[i])];

    private static Dictionary<string, int> ByName<T>(List<T>? all, Func<T, string?> name)
    {
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < (all?.Count ?? 0); i++)
        {
            if (name(all![i]) is string n)
            {
                index.TryAdd(n, i);
            }
        }

        return index;
    }

    private static IEnumerable<string> AclNames(EniAclSpec? acl) =>
        acl is null ? [] : new[] { acl.OutboundV4, acl.InboundV4, acl.OutboundV6, acl.InboundV6 }.SelectMany(l => l ?? []).OfType<string>();
}
