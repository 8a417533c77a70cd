namespace SnicRuntime.Contracts.Plans;

public static partial class PlanValidator
{
    /// <summary>An ACL group as validated: its family and its rules (priorities unique).</summary>
    public sealed record ParsedAclGroup(string Name, bool Ipv6, IReadOnlyList<ParsedAclRule> Rules);

    /// <summary>One rule; an empty prefix, protocol or port list means "any". Lower priority wins.</summary>
    public sealed record ParsedAclRule(int Priority, AclAction Action, IReadOnlyList<IpPrefix> Source, IReadOnlyList<IpPrefix> Destination,
        IReadOnlyList<byte> Protocols, IReadOnlyList<PortRange> SourcePorts, IReadOnlyList<PortRange> DestinationPorts);

    public sealed partial class ValidPlan
    {
        private readonly Dictionary<string, ParsedAclGroup> _aclGroups = new(StringComparer.Ordinal);

        public void AclGroups(List<AclGroupSpec>? groups)
        {
            for (int g = 0; g < (groups?.Count ?? 0); g++)
            {
                string path = $"$.acl_groups[{g}]";
                AclGroupSpec spec = groups![g];
                bool named = Name(path + ".name", spec.Name, "an ACL group");
                bool ipv6 = spec.Family == "ipv6";
                if (!ipv6 && spec.Family != "ipv4")
                {
                    Error(path + ".family", $"family must be \"ipv4\" or \"ipv6\", not '{spec.Family}'");
                    continue;
                }

                var rules = new List<ParsedAclRule>();
                var priorities = new Dictionary<long, int>();
                for (int r = 0; r < (spec.Rules?.Count ?? 0); r++)
                {
                    string rulePath = $"{path}.rules[{r}]";
                    AclRuleSpec rule = spec.Rules![r];
                    if (rule.Priority is not long priority || priority < 0 || priority > int.MaxValue)
                    {
                        Error(rulePath + ".priority", rule.Priority is null ? "missing priority" : $"priority {rule.Priority} is out of range (0..{int.MaxValue})");
                        continue;
                    }

                    if (!priorities.TryAdd(priority, r))
                    {
                        Error(rulePath + ".priority", $"duplicate priority {priority} in group '{spec.Name}' (also at {path}.rules[{priorities[priority]}])");
                    }

                    AclAction? action = rule.Action switch
                    {
                        "permit" => AclAction.Permit,
                        "deny" => AclAction.Deny,
                        "permit-and-continue" => AclAction.PermitAndContinue,
                        "deny-and-continue" => AclAction.DenyAndContinue,
                        _ => null,
                    };
                    if (action is null)
                    {
                        Error(rulePath + ".action", $"action must be permit, deny, permit-and-continue or deny-and-continue, not '{rule.Action}'");
                    }

                    var src = Prefixes(rulePath + ".src", rule.Src, ipv6);
                    var dst = Prefixes(rulePath + ".dst", rule.Dst, ipv6);
                    var protocols = new List<byte>();
                    for (int p = 0; p < (rule.Protocols?.Count ?? 0); p++)
                    {
                        long proto = rule.Protocols![p];
                        if (proto is < 0 or > 255)
                        {
                            Error($"{rulePath}.protocols[{p}]", $"protocol {proto} is out of range (0..255)");
                        }
                        else
                        {
                            protocols.Add((byte)proto);
                        }
                    }

                    var srcPorts = Ports(rulePath + ".src_ports", rule.SrcPorts);
                    var dstPorts = Ports(rulePath + ".dst_ports", rule.DstPorts);
                    if (action is AclAction a)
                    {
                        rules.Add(new ParsedAclRule((int)priority, a, src, dst, protocols, srcPorts, dstPorts));
                    }
                }

                if (named && !_aclGroups.TryAdd(spec.Name!, new ParsedAclGroup(spec.Name!, ipv6, rules)))
                {
                    Error(path + ".name", $"ACL group '{spec.Name}' is defined twice");
                }
            }
        }

        private List<IpPrefix> Prefixes(string path, List<string>? texts, bool ipv6)
        {
            var result = new List<IpPrefix>();
            for (int i = 0; i < (texts?.Count ?? 0); i++)
            {
                if (!PlanSyntax.TryPrefix(texts![i], out IpPrefix p, out string why))
                {
                    Error($"{path}[{i}]", why);
                }
                else if (p.IsIpv6 != ipv6)
                {
                    Error($"{path}[{i}]", $"'{texts[i]}' is {(p.IsIpv6 ? "IPv6" : "IPv4")} in an {(ipv6 ? "IPv6" : "IPv4")} group");
                }
                else
                {
                    result.Add(p);
                }
            }

            return result;
        }

        /// <summary>Port ranges of one rule field; overlapping ranges are an error (almost always a typo in a list meant to be disjoint).</summary>
        private List<PortRange> Ports(string path, List<string>? texts)
        {
            var result = new List<(PortRange Range, int Index)>();
            for (int i = 0; i < (texts?.Count ?? 0); i++)
            {
                if (!PlanSyntax.TryPortRange(texts![i], out PortRange range, out string why))
                {
                    Error($"{path}[{i}]", why);
                    continue;
                }

                foreach ((PortRange other, int j) in result)
                {
                    if (range.First <= other.Last && other.First <= range.Last)
                    {
                        Error($"{path}[{i}]", $"port range '{texts[i]}' overlaps '{texts[j]}' at {path}[{j}]");
                    }
                }

                result.Add((range, i));
            }

            return result.Select(x => x.Range).ToList();
        }

        /// <summary>Checks an ENI's stage list for one direction and family; returns the group names per stage.</summary>
        private string?[] AclStages(string path, List<string?>? stages, bool ipv6)
        {
            var result = new string?[3];
            if (stages is null)
            {
                return result;
            }

            if (stages.Count > 3)
            {
                Error(path, $"{stages.Count} ACL stages; at most 3");
                return result;
            }

            for (int s = 0; s < stages.Count; s++)
            {
                string? name = stages[s];
                if (name is null)
                {
                    continue;
                }

                if (!_aclGroups.TryGetValue(name, out var group))
                {
                    Error($"{path}[{s}]", $"unknown ACL group '{name}'");
                }
                else if (group.Ipv6 != ipv6)
                {
                    Error($"{path}[{s}]", $"ACL group '{name}' is {(group.Ipv6 ? "IPv6" : "IPv4")}; this list takes {(ipv6 ? "IPv6" : "IPv4")} groups");
                }
                else
                {
                    result[s] = name;
                }
            }

            return result;
        }
    }
}
