namespace SnicRuntime.Contracts.Plans;

public static partial class PlanValidator
{
    /// <summary>What a compiler reads of a valid plan: every value parsed, every reference checked.</summary>
    public sealed partial class ValidPlan
    {
        public long GenerationNumber => _generation;

        /// <summary>The appliance's VIP (IPv4, host order), its MAC and its neighbour's, and the uplink port (-1: the ingress port).</summary>
        public uint Vip => _vip;

        public ulong ApplianceMac => _mac;

        public ulong NeighborMac => _neighborMac;

        public int UplinkPort => _uplink;

        /// <summary>Meter class names by id.</summary>
        public IReadOnlyDictionary<long, string> MeterClassNames => _meterClasses;

        /// <summary>VNETs in plan order; a VNET's index in this list is how everything else refers to it.</summary>
        public IReadOnlyList<(string Name, uint Vni)> VnetList => _vnetList;

        /// <summary>Direction lookup: VNI → true when traffic with it is outbound.</summary>
        public IReadOnlyDictionary<uint, bool> OutboundVnis => _outboundVnis;

        public IReadOnlyDictionary<string, ParsedAclGroup> AclGroupsByName => _aclGroups;

        /// <summary>ECMP groups: their members' underlay addresses (IPv4, host order).</summary>
        public IReadOnlyDictionary<string, List<uint>> EcmpGroupsByName => _ecmpGroups;

        public IReadOnlyDictionary<string, List<ParsedRoute>> RouteTablesByName => _routeTables;

        public IReadOnlyList<ParsedMapping> MappingList => _mappings;

        public IReadOnlyDictionary<string, ParsedServiceTunnel> ServiceTunnelsByName => _serviceTunnels;

        public IReadOnlyList<ParsedEni> EniList => _enis;
    }
}
