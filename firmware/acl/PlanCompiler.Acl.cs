using SnicRuntime.Contracts.Plans;
using SnicRuntime.Firmware.Acl;

namespace SnicRuntime.Firmware.Plans;

public static partial class PlanCompiler
{
    /// <summary>Each ACL group as a classifier of its family (the rules' order is their priority order).</summary>
    private static void BuildAclGroups(PlanValidator.ValidPlan v, out Dictionary<string, AclGroup<uint>> groups4, out Dictionary<string, AclGroup<UInt128>> groups6)
    {
        groups4 = new Dictionary<string, AclGroup<uint>>(StringComparer.Ordinal);
        groups6 = new Dictionary<string, AclGroup<UInt128>>(StringComparer.Ordinal);
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
    }
}
