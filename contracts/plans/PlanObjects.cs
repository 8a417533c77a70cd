using System.Text;

namespace SnicRuntime.Contracts.Plans;

/// <summary>
/// A plan cut into one key per object, and put back together: the desired state's store keys, and
/// what a plan delta (<see cref="PlanDelta"/>) names, so the controller and the card cut a plan the
/// same way. Each value is itself a plan
/// holding that one object (<c>{"enis":[{...}]}</c>), so a value is readable on its own and needs no
/// serializer of its own. Large containers are cut further — each route of a route table and each
/// rule of an ACL group is its own key under its container — so a DASH-size table (100K routes,
/// 1000 rules × 100 prefixes) never meets etcd's request limit and one route's change writes one key.
/// <code>
/// appliance | direction_lookup                 one key each (small, card-wide)
/// vnets/NAME  enis/NAME  ecmp_groups/NAME  meter_classes/ID  service_tunnels/NAME
/// mappings/VNET/IP                              one per CA→PA mapping
/// route_tables/NAME  route_tables/NAME/routes/PREFIX
/// acl_groups/NAME    acl_groups/NAME/rules/PRIORITY
/// </code>
/// Identities are what the validator keeps unique (names, (VNET, IP), (table, prefix), (group,
/// priority)), escaped so a prefix's '/' stays inside its segment. Assembly orders every list by
/// key, so the same objects always give the same plan (and the same digest) whatever order they
/// were written in.
/// </summary>
public static class PlanObjects
{
    /// <summary>The objects of a validated plan, by key below the objects prefix.</summary>
    public static SortedDictionary<string, byte[]> Split(ChangePlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var objects = new SortedDictionary<string, byte[]>(StringComparer.Ordinal);
        void Add(string key, ChangePlan one) => objects.Add(key, Encoding.UTF8.GetBytes(PlanJson.Write(one)));

        if (plan.Appliance is not null)
        {
            Add("appliance", new ChangePlan { Appliance = plan.Appliance });
        }

        if (plan.DirectionLookup is not null)
        {
            Add("direction_lookup", new ChangePlan { DirectionLookup = plan.DirectionLookup });
        }

        foreach (VnetSpec v in plan.Vnets ?? [])
        {
            Add($"vnets/{Id(v.Name)}", new ChangePlan { Vnets = [v] });
        }

        foreach (EniSpec e in plan.Enis ?? [])
        {
            Add($"enis/{Id(e.Name)}", new ChangePlan { Enis = [e] });
        }

        foreach (MappingSpec m in plan.Mappings ?? [])
        {
            Add($"mappings/{Id(m.Vnet)}/{Id(m.Ip)}", new ChangePlan { Mappings = [m] });
        }

        foreach (RouteTableSpec t in plan.RouteTables ?? [])
        {
            Add($"route_tables/{Id(t.Name)}", new ChangePlan { RouteTables = [new RouteTableSpec { Name = t.Name, Routes = [] }] });
            foreach (RouteSpec r in t.Routes ?? [])
            {
                Add($"route_tables/{Id(t.Name)}/routes/{Id(r.Prefix)}", new ChangePlan { RouteTables = [new RouteTableSpec { Name = t.Name, Routes = [r] }] });
            }
        }

        foreach (AclGroupSpec g in plan.AclGroups ?? [])
        {
            Add($"acl_groups/{Id(g.Name)}", new ChangePlan { AclGroups = [new AclGroupSpec { Name = g.Name, Family = g.Family, Rules = [] }] });
            foreach (AclRuleSpec r in g.Rules ?? [])
            {
                // Priorities are zero-padded so key order is priority order.
                Add($"acl_groups/{Id(g.Name)}/rules/{r.Priority ?? 0:D20}", new ChangePlan { AclGroups = [new AclGroupSpec { Name = g.Name, Family = g.Family, Rules = [r] }] });
            }
        }

        foreach (EcmpGroupSpec g in plan.EcmpGroups ?? [])
        {
            Add($"ecmp_groups/{Id(g.Name)}", new ChangePlan { EcmpGroups = [g] });
        }

        foreach (MeterClassSpec m in plan.MeterClasses ?? [])
        {
            Add($"meter_classes/{m.Id ?? 0:D20}", new ChangePlan { MeterClasses = [m] });
        }

        foreach (ServiceTunnelSpec t in plan.ServiceTunnels ?? [])
        {
            Add($"service_tunnels/{Id(t.Name)}", new ChangePlan { ServiceTunnels = [t] });
        }

        return objects;
    }

    /// <summary>
    /// The plan the objects make, lists in key order. A value that does not parse is named by its
    /// key (someone wrote the store by hand), never half-read.
    /// </summary>
    public static ChangePlan Assemble(IEnumerable<KeyValuePair<string, byte[]>> objects, long? generation)
    {
        ArgumentNullException.ThrowIfNull(objects);
        return Merge(objects.OrderBy(o => o.Key, StringComparer.Ordinal).Select(o => KeyValuePair.Create(o.Key, Parse(o.Key, o.Value))), generation);
    }

    /// <summary>One object (a one-object plan); a value that does not parse is named by its key (<see cref="InvalidDataException"/>).</summary>
    public static ChangePlan Parse(string key, byte[] value) =>
        PlanJson.Parse(value, out PlanError? error)
            ?? throw new InvalidDataException($"plan object '{key}' does not parse: {error!.Value.Path}: {error.Value.Reason}");

    /// <summary>
    /// The plan that parsed objects make, given in key order (a cache of parsed objects assembles
    /// without parsing again). Objects are shared with the result, not copied.
    /// </summary>
    public static ChangePlan Merge(IEnumerable<KeyValuePair<string, ChangePlan>> ordered, long? generation)
    {
        ArgumentNullException.ThrowIfNull(ordered);
        var plan = new ChangePlan { Generation = generation };
        var tables = new Dictionary<string, RouteTableSpec>(StringComparer.Ordinal);
        var groups = new Dictionary<string, AclGroupSpec>(StringComparer.Ordinal);
        foreach ((string _, ChangePlan one) in ordered)
        {
            plan.Appliance = one.Appliance ?? plan.Appliance;
            if (one.DirectionLookup is not null)
            {
                plan.DirectionLookup = one.DirectionLookup;
            }

            Append(plan.Vnets, one.Vnets, l => plan.Vnets = l);
            Append(plan.Enis, one.Enis, l => plan.Enis = l);
            Append(plan.Mappings, one.Mappings, l => plan.Mappings = l);
            Append(plan.EcmpGroups, one.EcmpGroups, l => plan.EcmpGroups = l);
            Append(plan.MeterClasses, one.MeterClasses, l => plan.MeterClasses = l);
            Append(plan.ServiceTunnels, one.ServiceTunnels, l => plan.ServiceTunnels = l);
            foreach (RouteTableSpec t in one.RouteTables ?? [])
            {
                if (!tables.TryGetValue(t.Name ?? "", out RouteTableSpec? table))
                {
                    tables[t.Name ?? ""] = table = new RouteTableSpec { Name = t.Name, Routes = [] };
                    (plan.RouteTables ??= []).Add(table);
                }

                table.Routes!.AddRange(t.Routes ?? []);
            }

            foreach (AclGroupSpec g in one.AclGroups ?? [])
            {
                if (!groups.TryGetValue(g.Name ?? "", out AclGroupSpec? group))
                {
                    groups[g.Name ?? ""] = group = new AclGroupSpec { Name = g.Name, Family = g.Family, Rules = [] };
                    (plan.AclGroups ??= []).Add(group);
                }

                group.Rules!.AddRange(g.Rules ?? []);
            }
        }

        return plan;
    }

    private static void Append<T>(List<T>? into, List<T>? more, Action<List<T>> create)
    {
        if (more is null)
        {
            return;
        }

        if (into is null)
        {
            create(into = []);
        }

        into.AddRange(more);
    }

    /// <summary>The owner every share depends on: the card-wide objects (the appliance, the direction lookup).</summary>
    public const string Everyone = "*";

    /// <summary>
    /// What an object key belongs to, as the fleet's plan slices name their dependencies: a mapping
    /// belongs to its VNET ("vnets/NAME"), a route to its table, a rule to its group, anything else
    /// to its own "kind/name"; card-wide objects (the appliance, the direction lookup) to "*",
    /// which every share depends on. A change to a key re-cuts only the shares that name its owner.
    /// </summary>
    public static string Owner(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        string[] parts = key.Split('/');
        if (parts.Length < 2)
        {
            return Everyone;
        }

        string name = Uri.UnescapeDataString(parts[1]);
        return parts[0] switch
        {
            "mappings" => "vnets/" + name,
            "meter_classes" => "meter_classes/" + (long.TryParse(name, out long id) ? id : 0),
            _ => parts[0] + "/" + name,
        };
    }

    /// <summary>An identity as one key segment: '/' and '%' escaped, so "10.0.0.0/8" stays one segment.</summary>
    private static string Id(string? identity) => Uri.EscapeDataString(identity ?? "");
}
