namespace SnicRuntime.Firmware.Nat;

/// <summary>A compiled service tunnel: the /96 prefixes that embed IPv4 addresses on each side.</summary>
public sealed record ServiceTunnel(string Name, UInt128 SourcePrefix, UInt128 DestinationPrefix, int Action);
