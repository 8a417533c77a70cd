using SnicRuntime.Contracts.Plans;
using SnicRuntime.Firmware.Acl;
using SnicRuntime.Firmware.Encap;
using SnicRuntime.Firmware.Nat;
using SnicRuntime.Firmware.Routing;

namespace SnicRuntime.Firmware.Plans;

public static partial class PlanCompiler
{
    /// <summary>Builds the lookup structures from the validated, parsed plan.</summary>
    private static PolicyTables Build(PlanValidator.ValidPlan v, ChangePlan plan, PolicyTables? previous)
    {
        var actions = new List<TunnelAction>();
        int direct = actions.Count;
        actions.Add(new TunnelAction(TunnelActionKind.Direct, EncapKind.Vxlan, 0, 0, 0));

        // One action per mapping; mapping lookups return its index.
        var mappings4 = new List<KeyValuePair<ulong, int>>();
        var mappings6 = new Dictionary<(int, UInt128), int>();
        var pas = new HashSet<ulong>();
        foreach (PlanValidator.ParsedMapping m in v.MappingList)
        {
            int index = actions.Count;
            actions.Add(new TunnelAction(TunnelActionKind.Encap, m.Encap, m.Pa, m.Vni, m.Mac));
            if (m.Ca.IsIpv6)
            {
                mappings6[(m.Vnet, m.Ca.Address)] = index;
            }
            else
            {
                mappings4.Add(new((ulong)m.Vnet << 32 | m.Ca.V4, index));
            }

            pas.Add((ulong)m.Vnet << 32 | m.Pa);
        }

        // ECMP members become actions per (group, VNET): the VNET decides the VNI.
        var ecmpActions = new Dictionary<(string, int), int[]>();
        int[] EcmpActionsFor(string group, int vnet)
        {
            if (!ecmpActions.TryGetValue((group, vnet), out int[]? list))
            {
                list = v.EcmpGroupsByName[group].Select(pa =>
                {
                    actions.Add(new TunnelAction(TunnelActionKind.Encap, EncapKind.Vxlan, pa, v.VnetList[vnet].Vni, 0));
                    return actions.Count - 1;
                }).ToArray();
                ecmpActions[(group, vnet)] = list;
            }

            return list;
        }

        // One action per service tunnel: NAT46, then VXLAN to its underlay endpoint.
        var services = new List<ServiceTunnel>();
        var serviceAction = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (PlanValidator.ParsedServiceTunnel st in v.ServiceTunnelsByName.Values)
        {
            serviceAction[st.Name] = actions.Count;
            actions.Add(new TunnelAction(TunnelActionKind.ServiceTunnel, EncapKind.Vxlan, st.Pa, st.Vni, st.Mac, services.Count));
            services.Add(new ServiceTunnel(st.Name, st.SourcePrefix, st.DestinationPrefix, actions.Count - 1));
        }

        var tables = new Dictionary<string, RouteTable>(StringComparer.Ordinal);
        foreach ((string name, List<PlanValidator.ParsedRoute> parsed) in v.RouteTablesByName)
        {
            var routes = parsed.Select(r => new Route(r.Kind, r.Vnet, r.OverlayIp,
                r.EcmpGroup is null ? null : EcmpActionsFor(r.EcmpGroup, r.Vnet), r.MeterClass,
                r.ServiceTunnel is null ? -1 : serviceAction[r.ServiceTunnel])).ToArray();
            var v4 = IntervalMap<uint>.Build(parsed.Select((r, i) => (r, i)).Where(x => !x.r.Prefix.IsIpv6)
                .Select(x => PrefixRange<uint>.Of(x.r.Prefix.V4, x.r.Prefix.Length, x.i)));
            var v6 = Lpm6.Build(parsed.Select((r, i) => (r, i)).Where(x => x.r.Prefix.IsIpv6)
                .Select(x => (x.r.Prefix.Address, x.r.Prefix.Length, x.i)));
            tables[name] = new RouteTable(name, v4, v6, routes);
        }

        var groups4 = new Dictionary<string, AclGroup<uint>>(StringComparer.Ordinal);
        var groups6 = new Dictionary<string, AclGroup<UInt128>>(StringComparer.Ordinal);
        foreach ((string name, PlanValidator.ParsedAclGroup g) in v.AclGroupsByName)
        {
            if (g.Ipv6)
            {
                groups6[name] = new AclGroup<UInt128>(name, AclRules.Of(g, p => p.Address));
            }
            else
            {
                groups4[name] = new AclGroup<uint>(name, AclRules.Of(g, p => p.V4));
            }
        }

        Eni?[] enis = new Eni?[PolicyTables.MaxEnis];
        int[] indices = EniIndices(v.EniList, previous);
        var byMac = new List<KeyValuePair<ulong, int>>();
        for (int i = 0; i < v.EniList.Count; i++)
        {
            PlanValidator.ParsedEni e = v.EniList[i];
            int index = indices[i];
            enis[index] = new Eni
            {
                Name = e.Name,
                Index = index,
                AdminUp = e.AdminUp,
                Vnet = e.Vnet,
                VmVni = e.VmVni,
                VmUnderlayIp = e.VmUnderlayIp,
                RouteTable = e.RouteTable is null ? null : tables[e.RouteTable],
                OutboundV4 = e.OutboundV4.Select(n => n is null ? null : groups4[n]).ToArray(),
                InboundV4 = e.InboundV4.Select(n => n is null ? null : groups4[n]).ToArray(),
                OutboundV6 = e.OutboundV6.Select(n => n is null ? null : groups6[n]).ToArray(),
                InboundV6 = e.InboundV6.Select(n => n is null ? null : groups6[n]).ToArray(),
                InboundRoutes = [.. e.InboundRoutes],
                NatOut = e.Nat.Count == 0 ? null : new U64Map(e.Nat.Select(n => new KeyValuePair<ulong, int>(n.Internal, (int)n.External)).ToList()),
                NatIn = e.Nat.Count == 0 ? null : new U64Map(e.Nat.Select(n => new KeyValuePair<ulong, int>(n.External, (int)n.Internal)).ToList()),
            };
            byMac.Add(new(e.Mac, index));
        }

        string[] meterNames = new string[PolicyTables.MaxMeterClasses];
        for (int i = 0; i < meterNames.Length; i++)
        {
            meterNames[i] = v.MeterClassNames.TryGetValue(i, out string? n) ? n : $"class{i}";
        }

        return new PolicyTables
        {
            Generation = v.GenerationNumber,
            Vip = v.Vip,
            ApplianceMac = v.ApplianceMac,
            NeighborMac = v.NeighborMac,
            UplinkPort = v.UplinkPort,
            OutboundVnis = new U64Map(v.OutboundVnis.Where(d => d.Value).Select(d => new KeyValuePair<ulong, int>(d.Key, 1)).ToList()),
            EniByMac = new U64Map(byMac),
            Enis = enis,
            VnetNames = v.VnetList.Select(v => v.Name).ToArray(),
            VnetVnis = v.VnetList.Select(v => v.Vni).ToArray(),
            Mappings4 = new U64Map(mappings4),
            Mappings6 = mappings6,
            KnownPas = new U64Map(pas.Select(p => new KeyValuePair<ulong, int>(p, 1)).ToList()),
            Actions = new ActionTable(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(actions)),
            DirectAction = direct,
            MeterClassNames = meterNames,
            ServiceTunnels = [.. services],
            Source = plan,
        };
    }

    /// <summary>ENIs that existed in the previous generation keep their index; new ones take the lowest free.</summary>
    private static int[] EniIndices(IReadOnlyList<PlanValidator.ParsedEni> enis, PolicyTables? previous)
    {
        var used = new bool[PolicyTables.MaxEnis];
        var result = new int[enis.Count];
        for (int i = 0; i < enis.Count; i++)
        {
            result[i] = previous?.FindEni(enis[i].Name)?.Index ?? -1;
            if (result[i] >= 0)
            {
                used[result[i]] = true;
            }
        }

        int next = 0;
        for (int i = 0; i < enis.Count; i++)
        {
            if (result[i] < 0)
            {
                while (used[next])
                {
                    next++;
                }

                used[next] = true;
                result[i] = next;
            }
        }

        return result;
    }
}
