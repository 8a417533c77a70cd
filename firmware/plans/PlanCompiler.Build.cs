using SnicRuntime.Contracts.Plans;
using SnicRuntime.Firmware.Acl;
using SnicRuntime.Firmware.Encap;
using SnicRuntime.Firmware.Nat;
using SnicRuntime.Firmware.Routing;

namespace SnicRuntime.Firmware.Plans;

public static partial class PlanCompiler
{
    /// <summary>Builds the generation from the validated, parsed plan: each feature's tables (their build parts live in the feature folders), then the ENIs that reference them.</summary>
    private static PolicyTables Build(PlanValidator.ValidPlan v, ChangePlan plan, PolicyTables? previous)
    {
        var actions = new List<TunnelAction>();
        int direct = actions.Count;
        actions.Add(new TunnelAction(TunnelActionKind.Direct, EncapKind.Vxlan, 0, 0, 0));

        // Each feature builds its part, in this order (action indices follow it): mappings, service
        // tunnels, route tables (with their ECMP members), ACL groups, meter class names.
        MappingTables mappings = BuildMappings(v, actions);
        List<ServiceTunnel> services = BuildServiceTunnels(v, actions, out Dictionary<string, int> serviceAction);
        Dictionary<string, RouteTable> tables = BuildRouteTables(v, actions, serviceAction);
        BuildAclGroups(v, out Dictionary<string, AclGroup<uint>> groups4, out Dictionary<string, AclGroup<UInt128>> groups6);

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

        string[] meterNames = MeterClassNames(v);

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
            Mappings4 = mappings.V4,
            Mappings6 = mappings.V6,
            KnownPas = mappings.KnownPas,
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
