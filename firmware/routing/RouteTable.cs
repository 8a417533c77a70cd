using SnicRuntime.Contracts.Plans;

namespace SnicRuntime.Firmware.Routing;

/// <summary>A compiled route: what to do for destinations under its prefix. A struct, so a route table's routes sit in one array (one cache line per lookup, no pointer chase).</summary>
/// <remarks><see cref="EcmpActions"/>: the action of each member of the route's ECMP group (null when the route has none).</remarks>
public readonly record struct Route(RouteKind Kind, int Vnet, IpPrefix? OverlayIp, int[]? EcmpActions, byte MeterClass, int ServiceAction = -1);

/// <summary>An ENI's outbound route table: LPM per family to an index into <see cref="Routes"/>.</summary>
public sealed record RouteTable(string Name, IntervalMap<uint> V4, Lpm6 V6, Route[] Routes);

