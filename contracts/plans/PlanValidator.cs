namespace SnicRuntime.Contracts.Plans;

/// <summary>
/// Validates a whole change plan: every rule of the plan's schema and every reference between its
/// objects. Validation runs to the end and reports every error with its JSON path; a
/// <see cref="ValidPlan"/> (the plan's values, parsed) comes back only when there is none, so an
/// invalid plan produces nothing and changes nothing. The management plane runs it before it
/// delivers a plan and the card runs it again before it compiles one (firmware/plans).
/// </summary>
public static partial class PlanValidator
{
    /// <summary>Validates <paramref name="plan"/>; null with <paramref name="errors"/> filled when it is invalid.</summary>
    /// <param name="portCount">Ports the card has, to check the uplink port (0 = unknown, not checked).</param>
    /// <param name="scope">A card's plan (the default: one card's capacity applies) or a fleet's desired
    /// state, which may name more ENIs than one card holds: each card's share is checked by the card.</param>
    public static ValidPlan? Validate(ChangePlan plan, List<PlanError> errors, int portCount = 0, PlanScope scope = PlanScope.Card)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(errors);
        int before = errors.Count;
        var c = new ValidPlan(errors) { Scope = scope };
        c.Generation(plan.Generation);
        c.Appliance(plan.Appliance, portCount);
        c.MeterClasses(plan.MeterClasses);
        c.Vnets(plan.Vnets);
        c.Directions(plan.DirectionLookup);
        c.AclGroups(plan.AclGroups);
        c.EcmpGroups(plan.EcmpGroups);
        c.ServiceTunnels(plan.ServiceTunnels);
        c.RouteTables(plan.RouteTables);
        c.Mappings(plan.Mappings);
        c.Enis(plan.Enis);
        return errors.Count == before ? c : null;
    }

    /// <summary>Parses and validates in one step; null with <paramref name="errors"/> filled when the text or the plan is invalid.</summary>
    public static ValidPlan? Validate(string json, List<PlanError> errors, int portCount = 0)
    {
        ArgumentNullException.ThrowIfNull(errors);
        ChangePlan? plan = PlanJson.Parse(json, out PlanError? error);
        if (plan is null)
        {
            errors.Add(error!.Value);
            return null;
        }

        return Validate(plan, errors, portCount);
    }

    /// <summary>A plan that passed validation, with its values parsed (addresses, MACs, prefixes, references resolved to indices): what a compiler builds tables from.</summary>
    public sealed partial class ValidPlan(List<PlanError> errors)
    {
        /// <summary>What the plan is for: one card, or a fleet's desired state.</summary>
        public PlanScope Scope { get; init; }

        private long _generation;
        private uint _vip;
        private ulong _mac;
        private ulong _neighborMac;
        private int _uplink = -1;
        private readonly Dictionary<long, string> _meterClasses = [];
        private readonly Dictionary<string, int> _vnets = new(StringComparer.Ordinal);
        private readonly List<(string Name, uint Vni)> _vnetList = [];
        private readonly Dictionary<uint, bool> _outboundVnis = [];

        private void Error(string path, string reason) => errors.Add(new PlanError(path, reason));

        private bool Name(string path, string? name, string what)
        {
            if (string.IsNullOrWhiteSpace(name))
            {
                Error(path, $"{what} needs a name");
                return false;
            }

            return true;
        }

        private bool Vni(string path, long? vni, bool required = true)
        {
            if (vni is null)
            {
                if (required)
                {
                    Error(path, "missing VNI");
                }

                return false;
            }

            if (vni is < 0 or > PlanLimits.MaxVni)
            {
                Error(path, $"VNI {vni} is out of range (0..{PlanLimits.MaxVni}, 24 bits)");
                return false;
            }

            return true;
        }

        public void Generation(long? generation)
        {
            if (generation is null)
            {
                Error("$.generation", "missing generation number");
            }
            else if (generation < 1)
            {
                Error("$.generation", $"generation {generation} must be 1 or more");
            }
            else
            {
                _generation = generation.Value;
            }
        }

        public void Appliance(ApplianceSpec? a, int portCount)
        {
            if (a is null)
            {
                Error("$.appliance", "missing appliance (vip, mac, neighbor_mac)");
                return;
            }

            if (!PlanSyntax.TryIpv4(a.Vip, out _vip, out string why))
            {
                Error("$.appliance.vip", why);
            }

            if (!PlanSyntax.TryMac(a.Mac, out _mac, out why))
            {
                Error("$.appliance.mac", why);
            }

            if (!PlanSyntax.TryMac(a.NeighborMac, out _neighborMac, out why))
            {
                Error("$.appliance.neighbor_mac", why);
            }

            if (a.UplinkPort is int port)
            {
                if (port < 0 || port > 255 || (portCount > 0 && port >= portCount))
                {
                    Error("$.appliance.uplink_port", portCount > 0 ? $"port {port} does not exist (the card has {portCount})" : $"port {port} is out of range");
                }
                else
                {
                    _uplink = port;
                }
            }
        }

        public void Vnets(List<VnetSpec>? vnets)
        {
            for (int i = 0; i < (vnets?.Count ?? 0); i++)
            {
                string path = $"$.vnets[{i}]";
                VnetSpec v = vnets![i];
                bool ok = Name(path + ".name", v.Name, "a VNET");
                ok &= Vni(path + ".vni", v.Vni);
                if (ok && !_vnets.TryAdd(v.Name!, _vnetList.Count))
                {
                    Error(path + ".name", $"VNET '{v.Name}' is defined twice");
                    continue;
                }

                if (ok)
                {
                    _vnetList.Add((v.Name!, (uint)v.Vni!.Value));
                }
            }
        }

        public void Directions(List<DirectionSpec>? directions)
        {
            for (int i = 0; i < (directions?.Count ?? 0); i++)
            {
                string path = $"$.direction_lookup[{i}]";
                DirectionSpec d = directions![i];
                bool outbound = d.Direction == "outbound";
                if (!outbound && d.Direction != "inbound")
                {
                    Error(path + ".direction", $"direction must be \"outbound\" or \"inbound\", not '{d.Direction}'");
                    continue;
                }

                if (Vni(path + ".vni", d.Vni) && !_outboundVnis.TryAdd((uint)d.Vni!.Value, outbound))
                {
                    Error(path + ".vni", $"VNI {d.Vni} appears twice in the direction lookup");
                }
            }
        }

        private int VnetRef(string path, string? name, bool required = true)
        {
            if (name is null)
            {
                if (required)
                {
                    Error(path, "missing VNET reference");
                }

                return -1;
            }

            if (!_vnets.TryGetValue(name, out int index))
            {
                Error(path, $"unknown VNET '{name}'");
                return -1;
            }

            return index;
        }
    }
}

/// <summary>What a plan is validated as: one card's plan, or a fleet's desired state (no one card's capacity limits).</summary>
public enum PlanScope
{
    Card,
    Fleet,
}
