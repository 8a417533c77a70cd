using SnicRuntime.Contracts.Plans;
using SnicRuntime.Firmware.Pipeline;
using SnicRuntime.Firmware.Plans;
using SnicRuntime.Firmware.Routing;
using SnicRuntime.Hal.Emulated;

namespace SnicRuntime.Firmware.Boot;

/// <summary>
/// Generated traffic that a change plan's policy lets through: VMs behind the plan's ENIs (the
/// mappings carrying an ENI's MAC) open flows to the other VMs of their VNET, and those answer.
/// </summary>
internal static class DemoTraffic
{
    /// <summary>The DASH endpoints of <paramref name="t"/>, or null with a reason when the plan has none usable.</summary>
    public static DashEndpoints? From(PolicyTables t, out string why)
    {
        ChangePlan plan = t.Source;
        var eniByMac = new Dictionary<ulong, EniSpec>();
        foreach (EniSpec e in plan.Enis ?? [])
        {
            if (PlanSyntax.TryMac(e.Mac, out ulong mac, out _) && e.AdminState != "down")
            {
                eniByMac[mac] = e;
            }
        }

        var local = new List<DashVm>();
        var remote = new List<DashVm>();
        EniSpec? first = null;
        foreach (MappingSpec m in plan.Mappings ?? [])
        {
            if (!PlanSyntax.TryAddress(m.Ip, out IpPrefix ca, out _) || ca.IsIpv6
                || !PlanSyntax.TryIpv4(m.UnderlayIp, out uint pa, out _) || !PlanSyntax.TryMac(m.Mac, out ulong mac, out _))
            {
                continue;
            }

            if (eniByMac.TryGetValue(mac, out EniSpec? eni))
            {
                first ??= eni;
                local.Add(new DashVm(mac, ca.V4, pa));
            }
            else
            {
                remote.Add(new DashVm(mac, ca.V4, pa));
            }
        }

        if (first is null || remote.Count == 0)
        {
            why = "the plan needs mappings for its ENIs' own VMs (mapping MAC = ENI MAC) and for remote VMs";
            return null;
        }

        int vnet = Array.IndexOf(t.VnetNames, first.Vnet);
        why = "";
        return new DashEndpoints(local, remote, (uint)first.VmVni!.Value, t.VnetVnis[vnet]);
    }
}
