namespace SnicRuntime.Management.Fabric;

/// <summary>A card behind the fabric: its name, the link file of its port, and its underlay address (where a standby redirects to it).</summary>
public sealed record FabricCard(string Name, string LinkPath, uint Underlay);

/// <summary>How the fabric's endpoints play traffic.</summary>
public sealed record FabricOptions
{
    /// <summary>Connections open at once per ENI.</summary>
    public int ConnectionsPerEni { get; init; } = 100;

    /// <summary>Packets per connection (SYN, SYN-ACK, then data both ways), after which it goes idle (its flow ages out).</summary>
    public int StepsPerConnection { get; init; } = 40;

    /// <summary>Pause between a step's arrival and the next step.</summary>
    public double StepGapMs { get; init; } = 10;

    /// <summary>A step not arrived after this is sent again (a TCP retransmission).</summary>
    public double RetransmitMs { get; init; } = 40;

    /// <summary>A step not arrived after this, despite retransmissions, breaks its connection.</summary>
    public double BreakMs { get; init; } = 3000;

    /// <summary>Idle loop: sleep this long when nothing moved (0: yield). Many processes share two cores.</summary>
    public int IdleSleepMs { get; init; } = 1;
}
