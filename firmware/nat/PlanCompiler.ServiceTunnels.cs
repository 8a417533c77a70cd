using SnicRuntime.Contracts.Plans;
using SnicRuntime.Firmware.Encap;
using SnicRuntime.Firmware.Nat;

namespace SnicRuntime.Firmware.Plans;

public static partial class PlanCompiler
{
    /// <summary>One action per service tunnel: NAT46, then VXLAN to its underlay endpoint; <paramref name="actionOf"/> maps a tunnel's name to its action.</summary>
    private static List<ServiceTunnel> BuildServiceTunnels(PlanValidator.ValidPlan v, List<TunnelAction> actions, out Dictionary<string, int> actionOf)
    {
        var services = new List<ServiceTunnel>();
        actionOf = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (PlanValidator.ParsedServiceTunnel st in v.ServiceTunnelsByName.Values)
        {
            actionOf[st.Name] = actions.Count;
            actions.Add(new TunnelAction(TunnelActionKind.ServiceTunnel, EncapKind.Vxlan, st.Pa, st.Vni, st.Mac, services.Count));
            services.Add(new ServiceTunnel(st.Name, st.SourcePrefix, st.DestinationPrefix, actions.Count - 1));
        }

        return services;
    }
}
