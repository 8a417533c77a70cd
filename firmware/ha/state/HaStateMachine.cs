namespace SnicRuntime.Firmware.Ha;

/// <summary>States of one HA scope on one card (SONiC DASH smart-switch HA names).</summary>
public enum HaState : byte
{
    Dead,
    Connecting,
    InitializingToActive,
    InitializingToStandby,
    Active,
    Standby,
    Standalone,
    SwitchingToActive,
    SwitchingToStandby,
}

/// <summary>The role the management plane wants a card to have for a scope.</summary>
public enum HaRole : byte
{
    None,
    Active,
    Standby,
}

public enum HaEventKind : byte
{
    /// <summary>The management plane pairs the card: desired role and term.</summary>
    Configure,
    /// <summary>The peer answers probes.</summary>
    PeerUp,
    /// <summary>Probes from the peer stopped for interval × multiplier (or, while connecting, the peer never came).</summary>
    PeerLost,
    /// <summary>The peer's state and term for this scope, from its probes.</summary>
    PeerState,
    /// <summary>This card (joining as standby) has received the active's whole flow table.</summary>
    BulkSyncDone,
    /// <summary>The management plane asks for a planned switchover, with the term the new active will hold.</summary>
    Switchover,
    /// <summary>The switching active has no flow update left unacknowledged and stopped deciding flows.</summary>
    Drained,
    /// <summary>The management plane (the witness) grants this card a new term to take the scope over.</summary>
    TakeoverGranted,
    /// <summary>The management plane's probes stopped reaching this card.</summary>
    WitnessLost,
    WitnessUp,
    /// <summary>The management plane dissolves the pair.</summary>
    Unpair,
}

/// <summary>An input to the state machine. <see cref="Term"/> is the term carried by Configure, Switchover and TakeoverGranted.</summary>
public readonly record struct HaEvent(HaEventKind Kind, long Term = 0, HaRole Role = HaRole.None, HaState PeerState = HaState.Dead, long PeerTerm = 0)
{
    public override string ToString() => Kind switch
    {
        HaEventKind.Configure => $"Configure({Role}, term {Term})",
        HaEventKind.PeerState => $"PeerState({PeerState}, term {PeerTerm})",
        HaEventKind.Switchover or HaEventKind.TakeoverGranted => $"{Kind}(term {Term})",
        _ => Kind.ToString(),
    };
}

/// <summary>What an event did: the move (From = To when it changed nothing) and why, for logs and counters.</summary>
public readonly record struct HaTransition(HaState From, HaState To, HaEvent Event, string Why, bool Refused = false, HaRule? Rule = null);

/// <summary>
/// One HA scope's state machine on one card: pure (no I/O, no clock), driven by events from
/// liveness, the sync channel and the management plane; <see cref="HaRules"/> is its whole
/// transition table, and <c>firmware/ha/README.md</c> shows the same table.
/// </summary>
/// <remarks>
/// The term fences old actives: a card forwards as active only under the newest term it has
/// seen, never accepts a term older than the one it holds, and steps down the moment it sees its
/// peer active under a newer term (equal terms — which a correct management plane never issues —
/// break the tie by card id). Terms are persisted (<see cref="HaTermStore"/>) before they are
/// acted on, so a restarted card cannot resurrect a stale one.
/// </remarks>
public sealed class HaStateMachine(string scope, uint cardId, uint peerId, HaTermStore? terms = null)
{
    public string Scope { get; } = scope;

    public HaState State { get; private set; } = HaState.Dead;

    public HaRole DesiredRole { get; private set; }

    /// <summary>The term this card holds for the scope (0 before pairing).</summary>
    public long Term { get; private set; } = terms?.Read(scope) ?? 0;

    /// <summary>Whether the management plane's probes reach this card (assumed until told otherwise).</summary>
    public bool WitnessReachable { get; private set; } = true;

    public bool PeerReachable { get; private set; }

    /// <summary>The peer's state and term as its last probe said (probes arrive before the peer counts as up).</summary>
    public HaState LastPeerState { get; private set; } = HaState.Dead;

    public long LastPeerTerm { get; private set; }

    internal uint CardId => cardId;

    internal uint PeerId => peerId;

    /// <summary>This card decides the scope's new flows (the active side). A switching active only finishes the flows it has.</summary>
    public bool Forwards => State is HaState.Active or HaState.Standalone or HaState.InitializingToActive;

    public HaTransition Apply(HaEvent e)
    {
        switch (e.Kind)
        {
            case HaEventKind.PeerUp:
                PeerReachable = true;
                break;
            case HaEventKind.PeerLost:
                PeerReachable = false;
                break;
            case HaEventKind.WitnessLost:
                WitnessReachable = false;
                break;
            case HaEventKind.WitnessUp:
                WitnessReachable = true;
                break;
            case HaEventKind.PeerState:
                LastPeerState = e.PeerState;
                LastPeerTerm = e.PeerTerm;
                break;
        }

        HaState from = State;
        foreach (HaRule rule in HaRules.All)
        {
            if (rule.Event != e.Kind || Array.IndexOf(rule.From, from) < 0)
            {
                continue;
            }

            string? refusal = rule.Guard(this, e);
            if (refusal is not null)
            {
                if (rule.RefuseWhenGuardFails)
                {
                    return new HaTransition(from, from, e, refusal, Refused: true, Rule: rule);
                }

                continue;
            }

            rule.Effect?.Invoke(this, e);
            State = rule.To(this, e);
            return new HaTransition(from, State, e, rule.Why, Rule: rule);
        }

        return new HaTransition(from, from, e, "no rule: nothing to do in this state");
    }

    internal void TakeTerm(long term, HaRole? role = null)
    {
        if (term < Term)
        {
            throw new InvalidOperationException($"term {term} is older than the held term {Term}"); // guarded before
        }

        terms?.Write(Scope, term); // durable before it is acted on
        Term = term;
        if (role is HaRole r)
        {
            DesiredRole = r;
        }
    }

    internal void Forget() => DesiredRole = HaRole.None;

    internal void Follow() => DesiredRole = HaRole.Standby;
}
