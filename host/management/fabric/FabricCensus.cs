namespace SnicRuntime.Management.Fabric;

/// <summary>
/// The judge of a fault run: per ENI, what the endpoints sent and what arrived. The cards' own
/// counters are not consulted. A connection is <b>acknowledged</b> once its SYN came out of the
/// card deciding its scope (the card released the first packet, which an active does only after
/// its standby holds the flow); it is <b>lost</b> when, acknowledged, one of its later packets
/// never arrives in <see cref="FabricOptions.BreakMs"/> despite retransmissions (the card that
/// took over did not have its flow, so a mid-connection segment is dropped).
/// </summary>
public sealed class FabricCensus
{
    public FabricCensus(IReadOnlyList<FabricEni> enis)
    {
        ArgumentNullException.ThrowIfNull(enis);
        Enis = [.. enis.Select(e => new EniCensus(e.Name))];
    }

    public IReadOnlyList<EniCensus> Enis { get; }

    /// <summary>Sums over every ENI.</summary>
    public EniCensus Total()
    {
        var t = new EniCensus("total");
        foreach (EniCensus e in Enis)
        {
            t.Add(e);
        }

        return t;
    }
}

/// <summary>One ENI's figures (or their sum). Written by the fabric's thread; read after it stopped or as a sample.</summary>
public sealed class EniCensus(string eni)
{
    public string Eni { get; } = eni;

    /// <summary>Connections opened (a SYN sent).</summary>
    public long Opened;

    /// <summary>Connections whose SYN came out of a card: flows the card decided and released.</summary>
    public long Acknowledged;

    /// <summary>Connections that ran every step.</summary>
    public long Completed;

    /// <summary>Acknowledged connections broken: a later step never arrived. The figure that must be 0.</summary>
    public long FlowsLost;

    /// <summary>Connections whose SYN never came out (never acknowledged, so not a lost flow; a refused connection for the VM).</summary>
    public long Refused;

    /// <summary>Packets the endpoints sent, retransmissions included.</summary>
    public long PacketsSent;

    /// <summary>Packets that arrived at an endpoint (duplicates included).</summary>
    public long PacketsArrived;

    /// <summary>Arrivals of a step already received (a retransmission and its original both got through).</summary>
    public long Duplicates;

    public long Retransmits;

    /// <summary>Outbound steps (from the VM) that arrived at the VM's own side, or the reverse.</summary>
    public long Misdelivered;

    /// <summary>Packets the fabric had no card to steer to (no card announced the ENI's scope).</summary>
    public long Unsteered;

    /// <summary>Packets the fabric could not put on a card's wire (its ring full: a dead or stalled card).</summary>
    public long WireFull;

    /// <summary>SYNs that came out of two different cards within one millisecond: two cards deciding one scope.</summary>
    public long BothDecidingMs;

    /// <summary>Packets lost: sent and never arrived (those still in flight when sampled count too, so read it after a drain).</summary>
    public long PacketsLost => PacketsSent - PacketsArrived;

    internal void Add(EniCensus e)
    {
        Opened += e.Opened;
        Acknowledged += e.Acknowledged;
        Completed += e.Completed;
        FlowsLost += e.FlowsLost;
        Refused += e.Refused;
        PacketsSent += e.PacketsSent;
        PacketsArrived += e.PacketsArrived;
        Duplicates += e.Duplicates;
        Retransmits += e.Retransmits;
        Misdelivered += e.Misdelivered;
        Unsteered += e.Unsteered;
        WireFull += e.WireFull;
        BothDecidingMs += e.BothDecidingMs;
    }

    /// <summary>What happened since <paramref name="before"/> (a phase of a run, between two drained samples).</summary>
    public EniCensus Since(EniCensus before)
    {
        ArgumentNullException.ThrowIfNull(before);
        return new EniCensus(Eni)
        {
            Opened = Opened - before.Opened,
            Acknowledged = Acknowledged - before.Acknowledged,
            Completed = Completed - before.Completed,
            FlowsLost = FlowsLost - before.FlowsLost,
            Refused = Refused - before.Refused,
            PacketsSent = PacketsSent - before.PacketsSent,
            PacketsArrived = PacketsArrived - before.PacketsArrived,
            Duplicates = Duplicates - before.Duplicates,
            Retransmits = Retransmits - before.Retransmits,
            Misdelivered = Misdelivered - before.Misdelivered,
            Unsteered = Unsteered - before.Unsteered,
            WireFull = WireFull - before.WireFull,
            BothDecidingMs = BothDecidingMs - before.BothDecidingMs,
        };
    }

    public EniCensus Snapshot()
    {
        var s = new EniCensus(Eni);
        s.Add(this);
        return s;
    }

    public override string ToString() =>
        $"{Eni}: connections {Opened} acknowledged {Acknowledged} completed {Completed} flows_lost {FlowsLost} refused {Refused}; " +
        $"packets sent {PacketsSent} arrived {PacketsArrived} lost {PacketsLost} retransmitted {Retransmits} duplicates {Duplicates} unsteered {Unsteered} wire_full {WireFull}";
}
