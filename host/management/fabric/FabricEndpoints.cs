using SnicRuntime.Contracts.Plans;

namespace SnicRuntime.Management.Fabric;

/// <summary>A VM: its MAC, overlay (CA) and underlay (PA) addresses, IPv4.</summary>
public readonly record struct FabricVm(ulong Mac, uint Ca, uint Pa);

/// <summary>
/// One ENI as the fabric's endpoints see it: its own VM (VM side) and the remote VMs of its VNET
/// (remote side), the VNIs each side sends with, and the VIP both send to.
/// </summary>
public sealed record FabricEni(string Name, FabricVm Vm, IReadOnlyList<FabricVm> Remotes, uint OutboundVni, uint InboundVni, uint Vip);

/// <summary>The traffic endpoints a change plan implies: for each ENI that is up and has a mapping for its own VM, that VM and its VNET's other VMs.</summary>
public static class FabricEndpoints
{
    /// <summary>The ENIs of <paramref name="plan"/> the fabric can play traffic for; <paramref name="why"/> says why none when empty.</summary>
    public static IReadOnlyList<FabricEni> From(ChangePlan plan, out string why)
    {
        ArgumentNullException.ThrowIfNull(plan);
        why = "";
        if (!PlanSyntax.TryIpv4(plan.Appliance?.Vip, out uint vip, out _))
        {
            why = "the plan has no IPv4 appliance VIP";
            return [];
        }

        var outboundVnis = (plan.DirectionLookup ?? []).Where(d => d.Direction == "outbound" && d.Vni is not null).Select(d => (uint)d.Vni!.Value).ToHashSet();
        var vnetVni = (plan.Vnets ?? []).Where(v => v.Name is not null && v.Vni is not null).ToDictionary(v => v.Name!, v => (uint)v.Vni!.Value, StringComparer.Ordinal);
        var vms = new List<(string Vnet, FabricVm Vm)>();
        foreach (MappingSpec m in plan.Mappings ?? [])
        {
            if (m.Vnet is not null && PlanSyntax.TryAddress(m.Ip, out IpPrefix ca, out _) && !ca.IsIpv6
                && PlanSyntax.TryIpv4(m.UnderlayIp, out uint pa, out _) && PlanSyntax.TryMac(m.Mac, out ulong mac, out _))
            {
                vms.Add((m.Vnet, new FabricVm(mac, ca.V4, pa)));
            }
        }

        var enis = new List<FabricEni>();
        foreach (EniSpec e in plan.Enis ?? [])
        {
            if (e.Name is null || e.AdminState == "down" || e.Vnet is null || !vnetVni.TryGetValue(e.Vnet, out uint inbound)
                || !PlanSyntax.TryMac(e.Mac, out ulong mac, out _) || e.VmVni is null || !outboundVnis.Contains((uint)e.VmVni.Value))
            {
                continue;
            }

            FabricVm? own = vms.Where(v => v.Vnet == e.Vnet && v.Vm.Mac == mac).Select(v => (FabricVm?)v.Vm).FirstOrDefault();
            var remotes = vms.Where(v => v.Vnet == e.Vnet && v.Vm.Mac != mac && !(plan.Enis ?? []).Any(x => PlanSyntax.TryMac(x.Mac, out ulong m2, out _) && m2 == v.Vm.Mac))
                .Select(v => v.Vm).ToList();
            if (own is null || remotes.Count == 0)
            {
                continue;
            }

            enis.Add(new FabricEni(e.Name, own.Value, remotes, (uint)e.VmVni.Value, inbound, vip));
        }

        if (enis.Count == 0)
        {
            why = "no ENI of the plan has a mapping for its own VM (mapping MAC = ENI MAC), an outbound VNI in direction_lookup and remote VMs in its VNET";
        }

        return enis;
    }
}
