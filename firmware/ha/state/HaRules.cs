namespace SnicRuntime.Firmware.Ha;

/// <summary>
/// One row of the transition table: in any of <see cref="From"/>, on <see cref="Event"/>, if the
/// guard passes (returns null), apply the effect and go to <see cref="To"/>. A failing guard
/// either lets later rows try or, for <see cref="RefuseWhenGuardFails"/>, refuses the event.
/// </summary>
public sealed record HaRule(
    HaState[] From,
    HaEventKind Event,
    string GuardText,
    Func<HaStateMachine, HaEvent, string?> Guard,
    Func<HaStateMachine, HaEvent, HaState> To,
    string ToText,
    string Why,
    Action<HaStateMachine, HaEvent>? Effect = null,
    bool RefuseWhenGuardFails = false);

/// <summary>The HA state machine's transition table (documented in firmware/ha/README.md; a test keeps the two in step).</summary>
public static class HaRules
{
    private static readonly HaState[] s_any =
    [
        HaState.Dead, HaState.Connecting, HaState.InitializingToActive, HaState.InitializingToStandby, HaState.Active, HaState.Standby,
        HaState.Standalone, HaState.SwitchingToActive, HaState.SwitchingToStandby,
    ];
    private static readonly HaState[] s_activeSide = [HaState.Active, HaState.Standalone, HaState.SwitchingToStandby, HaState.InitializingToActive];

    private static string? Always(HaStateMachine m, HaEvent e) => null;

    private static HaState[] S(params HaState[] s) => s;

    private static string? NotStale(HaStateMachine m, HaEvent e) =>
        e.Term < m.Term ? $"term {e.Term} is older than the held term {m.Term}: stale, refused" : null;

    private static string? Newer(HaStateMachine m, HaEvent e) =>
        e.Term <= m.Term ? $"term {e.Term} is not newer than the held term {m.Term}: refused" : null;

    // The peer is active-side under a newer term, or the same term and a lower card id.
    private static string? PeerOutranks(HaStateMachine m, HaEvent e) =>
        Array.IndexOf(s_activeSide, e.PeerState) >= 0 && (e.PeerTerm > m.Term || (e.PeerTerm == m.Term && m.PeerId < m.CardId)) ? null : "peer does not outrank";

    // The peer's last probe showed it active-side under a newer term (or the same term and a lower card id).
    private static string? PeerLastOutranks(HaStateMachine m, HaEvent e) =>
        PeerOutranks(m, new HaEvent(HaEventKind.PeerState, PeerState: m.LastPeerState, PeerTerm: m.LastPeerTerm));

    public static IReadOnlyList<HaRule> All { get; } =
    [
        new(s_any, HaEventKind.Configure, "term not older than held", NotStale, (_, _) => HaState.Connecting, "Connecting",
            "paired by the management plane: look for the peer", (m, e) => m.TakeTerm(e.Term, e.Role), RefuseWhenGuardFails: true),
        new(S(HaState.Connecting), HaEventKind.PeerUp, "peer's last probe: active-side under a newer term", PeerLastOutranks,
            (_, _) => HaState.InitializingToStandby, "InitializingToStandby", "the peer holds the scope under a newer term: join it as standby (bulk sync)",
            (m, _) => m.Follow()),
        new(S(HaState.Standby), HaEventKind.PeerUp, "", Always, (_, _) => HaState.InitializingToStandby, "InitializingToStandby",
            "the peer is back after a loss: what it did meanwhile comes by bulk sync"),
        new(S(HaState.Connecting), HaEventKind.PeerUp, "desired active", (m, _) => m.DesiredRole == HaRole.Active ? null : "",
            (_, _) => HaState.InitializingToActive, "InitializingToActive", "peer found: send it the flow table (bulk sync)"),
        new(S(HaState.Connecting), HaEventKind.PeerUp, "desired standby", (m, _) => m.DesiredRole == HaRole.Standby ? null : "",
            (_, _) => HaState.InitializingToStandby, "InitializingToStandby", "peer found: receive its flow table (bulk sync)"),
        new(S(HaState.Connecting), HaEventKind.PeerLost, "desired active and witness reachable",
            (m, _) => m.DesiredRole == HaRole.Active && m.WitnessReachable ? null : "",
            (_, _) => HaState.Standalone, "Standalone", "no peer came: forward alone under the held term"),
        new(S(HaState.InitializingToStandby), HaEventKind.BulkSyncDone, "", Always, (_, _) => HaState.Standby, "Standby",
            "holds every flow of the active: ready to take over"),
        new(S(HaState.InitializingToStandby), HaEventKind.PeerLost, "", Always, (_, _) => HaState.Connecting, "Connecting",
            "bulk sync incomplete: cannot serve, look for the peer again"),
        new(S(HaState.InitializingToActive), HaEventKind.PeerState, "peer is Standby", (_, e) => e.PeerState == HaState.Standby ? null : "",
            (_, _) => HaState.Active, "Active", "the standby holds every flow: replicate inline from now on"),
        new(S(HaState.InitializingToActive, HaState.Active), HaEventKind.PeerLost, "witness reachable", (m, _) => m.WitnessReachable ? null : "",
            (_, _) => HaState.Standalone, "Standalone", "peer lost: keep forwarding alone, nothing to hold for"),
        new(S(HaState.Active, HaState.Standalone), HaEventKind.PeerLost, "witness unreachable", (m, _) => m.WitnessReachable ? "" : null,
            (_, _) => HaState.Connecting, "Connecting", "neither peer nor witness: cannot prove this card still holds the scope, stop (self-fence)"),
        new(S(HaState.Standalone), HaEventKind.WitnessLost, "peer unreachable", (m, _) => m.PeerReachable ? "" : null,
            (_, _) => HaState.Connecting, "Connecting", "neither peer nor witness: self-fence"),
        new(S(HaState.Standalone), HaEventKind.PeerUp, "", Always, (_, _) => HaState.InitializingToActive, "InitializingToActive",
            "the peer is back: bulk-sync it, then pair again"),
        new(S(HaState.Standby, HaState.SwitchingToActive), HaEventKind.TakeoverGranted, "term newer than held", Newer,
            (_, _) => HaState.Standalone, "Standalone", "the witness saw the active gone and issued a new term: take over",
            (m, e) => m.TakeTerm(e.Term, HaRole.Active), RefuseWhenGuardFails: true),
        new(S(HaState.Active), HaEventKind.Switchover, "term newer than held", Newer, (_, _) => HaState.SwitchingToStandby, "SwitchingToStandby",
            "planned switchover: finish inline sync, then hand over", (m, e) => m.TakeTerm(e.Term, HaRole.Standby), RefuseWhenGuardFails: true),
        new(S(HaState.Standby), HaEventKind.Switchover, "term newer than held", Newer, (_, _) => HaState.SwitchingToActive, "SwitchingToActive",
            "planned switchover: take over once the active has drained", (m, e) => m.TakeTerm(e.Term, HaRole.Active), RefuseWhenGuardFails: true),
        new(S(HaState.SwitchingToStandby), HaEventKind.Drained, "", Always, (_, _) => HaState.Standby, "Standby",
            "every flow update acknowledged: stop deciding, redirect to the peer"),
        new(S(HaState.SwitchingToActive), HaEventKind.PeerState, "peer is Standby", (_, e) => e.PeerState == HaState.Standby ? null : "",
            (_, _) => HaState.Active, "Active", "the old active drained and stepped down: forward"),
        new(s_activeSide, HaEventKind.PeerState, "peer active-side under a newer term (equal: lower card id wins)", PeerOutranks,
            (_, _) => HaState.Standby, "Standby", "fenced: the peer holds the scope under a newer term, step down", (m, e) => m.Forget()),
        new(s_activeSide, HaEventKind.Unpair, "", Always, (_, _) => HaState.Standalone, "Standalone", "unpaired: keep forwarding alone"),
        new(S(HaState.Dead, HaState.Connecting, HaState.InitializingToStandby, HaState.Standby, HaState.SwitchingToActive), HaEventKind.Unpair, "", Always,
            (_, _) => HaState.Dead, "Dead", "unpaired: this card does not serve the scope"),
    ];
}
