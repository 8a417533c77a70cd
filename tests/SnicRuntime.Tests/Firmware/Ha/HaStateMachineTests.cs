using SnicRuntime.Firmware.Ha;
using SnicRuntime.TestKit;
using Xunit;
using E = SnicRuntime.Firmware.Ha.HaEventKind;
using S = SnicRuntime.Firmware.Ha.HaState;

namespace SnicRuntime.Tests.Firmware.Ha;

/// <summary>
/// Every row of the HA transition table fired from every state it lists, stale terms refused,
/// the README's table in step with the code, terms durable across a restart, and split brain
/// attempted every way a test can think of.
/// </summary>
public sealed class HaStateMachineTests
{
    private static HaEvent Ev(E kind, long term = 0, HaRole role = HaRole.None) => new(kind, term, role);

    private static HaEvent Peer(S state, long term) => new(E.PeerState, PeerState: state, PeerTerm: term);

    /// <summary>Drives a fresh machine (card 2, peer 1) to <paramref name="target"/> the way a card gets there.</summary>
    private static HaStateMachine Reach(S target, HaRole role = HaRole.Active, uint card = 2, uint peer = 1)
    {
        var m = new HaStateMachine("scope1", card, peer);
        HaEvent[] path = target switch
        {
            S.Dead => [],
            S.Connecting => [Ev(E.Configure, 1, role)],
            S.InitializingToActive => [Ev(E.Configure, 1, HaRole.Active), Ev(E.PeerUp)],
            S.InitializingToStandby => [Ev(E.Configure, 1, HaRole.Standby), Ev(E.PeerUp)],
            S.Active => [Ev(E.Configure, 1, HaRole.Active), Ev(E.PeerUp), Peer(S.Standby, 1)],
            S.Standby => [Ev(E.Configure, 1, HaRole.Standby), Ev(E.PeerUp), Ev(E.BulkSyncDone)],
            S.Standalone => [Ev(E.Configure, 1, HaRole.Active), Ev(E.PeerLost)],
            S.SwitchingToStandby => [Ev(E.Configure, 1, HaRole.Active), Ev(E.PeerUp), Peer(S.Standby, 1), Ev(E.Switchover, 2)],
            S.SwitchingToActive => [Ev(E.Configure, 1, HaRole.Standby), Ev(E.PeerUp), Ev(E.BulkSyncDone), Ev(E.Switchover, 2)],
            _ => throw new ArgumentOutOfRangeException(nameof(target)),
        };
        foreach (HaEvent e in path)
        {
            Assert.False(m.Apply(e).Refused);
        }

        Assert.Equal(target, m.State);
        return m;
    }

    // (state to start in, events, expected end state); the last event is the one under test.
    public static TheoryData<S, HaRole, HaEvent[], S> Cases()
    {
        var d = new TheoryData<S, HaRole, HaEvent[], S>();
        foreach (S s in Enum.GetValues<S>())
        {
            d.Add(s, HaRole.Active, [Ev(E.Configure, 5, HaRole.Active)], S.Connecting);
        }

        d.Add(S.Connecting, HaRole.Active, [Ev(E.PeerUp)], S.InitializingToActive);
        d.Add(S.Connecting, HaRole.Active, [Peer(S.Standalone, 9), Ev(E.PeerUp)], S.InitializingToStandby); // a fenced old active rejoins as standby
        d.Add(S.Standby, HaRole.Standby, [Ev(E.PeerLost), Ev(E.PeerUp)], S.InitializingToStandby); // back after a loss: bulk again
        d.Add(S.Connecting, HaRole.Standby, [Ev(E.PeerUp)], S.InitializingToStandby);
        d.Add(S.Connecting, HaRole.Active, [Ev(E.PeerLost)], S.Standalone);
        d.Add(S.Connecting, HaRole.Standby, [Ev(E.PeerLost)], S.Connecting);
        d.Add(S.Connecting, HaRole.Active, [Ev(E.WitnessLost), Ev(E.PeerLost)], S.Connecting);
        d.Add(S.InitializingToStandby, HaRole.Standby, [Ev(E.BulkSyncDone)], S.Standby);
        d.Add(S.InitializingToStandby, HaRole.Standby, [Ev(E.PeerLost)], S.Connecting);
        d.Add(S.InitializingToActive, HaRole.Active, [Peer(S.Standby, 1)], S.Active);
        d.Add(S.InitializingToActive, HaRole.Active, [Peer(S.InitializingToStandby, 1)], S.InitializingToActive);
        d.Add(S.InitializingToActive, HaRole.Active, [Ev(E.PeerLost)], S.Standalone);
        d.Add(S.Active, HaRole.Active, [Ev(E.PeerLost)], S.Standalone);
        d.Add(S.Active, HaRole.Active, [Ev(E.WitnessLost)], S.Active); // the peer still vouches
        d.Add(S.Active, HaRole.Active, [Ev(E.WitnessLost), Ev(E.PeerLost)], S.Connecting);
        d.Add(S.Standalone, HaRole.Active, [Ev(E.WitnessLost)], S.Connecting);
        d.Add(S.Standalone, HaRole.Active, [Ev(E.PeerUp)], S.InitializingToActive);
        d.Add(S.Standby, HaRole.Standby, [Ev(E.TakeoverGranted, 2), Ev(E.WitnessLost), Ev(E.PeerLost)], S.Connecting); // Standalone + PeerLost, witness gone
        d.Add(S.Standby, HaRole.Standby, [Ev(E.PeerLost)], S.Standby); // no grant, no takeover
        d.Add(S.Standby, HaRole.Standby, [Ev(E.TakeoverGranted, 2)], S.Standalone);
        d.Add(S.SwitchingToActive, HaRole.Standby, [Ev(E.TakeoverGranted, 3)], S.Standalone);
        d.Add(S.Active, HaRole.Active, [Ev(E.Switchover, 2)], S.SwitchingToStandby);
        d.Add(S.Standby, HaRole.Standby, [Ev(E.Switchover, 2)], S.SwitchingToActive);
        d.Add(S.SwitchingToStandby, HaRole.Active, [Ev(E.Drained)], S.Standby);
        d.Add(S.SwitchingToActive, HaRole.Standby, [Peer(S.Standby, 2)], S.Active);
        foreach (S s in new[] { S.Active, S.Standalone, S.SwitchingToStandby, S.InitializingToActive })
        {
            d.Add(s, HaRole.Active, [Peer(S.Active, 9)], S.Standby);
            d.Add(s, HaRole.Active, [Ev(E.Unpair)], S.Standalone);
        }

        foreach (S s in new[] { S.Dead, S.Connecting, S.InitializingToStandby, S.Standby, S.SwitchingToActive })
        {
            d.Add(s, HaRole.Standby, [Ev(E.Unpair)], S.Dead);
        }

        return d;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Transition(S start, HaRole role, HaEvent[] events, S expected)
    {
        HaStateMachine m = Reach(start, role);
        foreach (HaEvent e in events)
        {
            m.Apply(e);
        }

        Assert.Equal(expected, m.State);
    }

    [Fact]
    public void Every_row_fires_from_every_state_it_lists()
    {
        var fired = new HashSet<(HaRule, S)>();
        foreach (object[] c in Cases())
        {
            HaStateMachine m = Reach((S)c[0], (HaRole)c[1]);
            foreach (HaEvent e in (HaEvent[])c[2])
            {
                HaTransition t = m.Apply(e);
                if (t.Rule is not null && !t.Refused)
                {
                    fired.Add((t.Rule, t.From));
                }
            }
        }

        var missing = HaRules.All.SelectMany(r => r.From.Select(f => (r, f))).Where(x => !fired.Contains(x))
            .Select(x => $"{x.f} --{x.r.Event}--> {x.r.ToText}").ToList();
        Assert.True(missing.Count == 0, "rows never fired: " + string.Join("; ", missing));
    }

    [Fact]
    public void Stale_and_not_newer_terms_are_refused_and_change_nothing()
    {
        HaStateMachine standby = Reach(S.Standby, HaRole.Standby);
        HaTransition t = standby.Apply(Ev(E.TakeoverGranted, 1)); // not newer than the held 1
        Assert.True(t.Refused);
        Assert.Equal(S.Standby, standby.State);
        Assert.Contains("not newer", t.Why, StringComparison.Ordinal);

        HaStateMachine active = Reach(S.SwitchingToStandby); // holds term 2
        Assert.True(active.Apply(Ev(E.Configure, 1, HaRole.Active)).Refused);
        Assert.Equal(S.SwitchingToStandby, active.State);
        Assert.Equal(2, active.Term);
        Assert.True(Reach(S.Active).Apply(Ev(E.Switchover, 1)).Refused);
    }

    [Fact]
    public void The_readme_table_is_the_code_table()
    {
        string readme = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "firmware", "ha", "README.md"));
        // The transition table: the rows after its "| from |" header, up to the first line that is not a row.
        var rows = readme.Split('\n').SkipWhile(l => !l.StartsWith("| from |", StringComparison.Ordinal)).Skip(2)
            .TakeWhile(l => l.StartsWith("| ", StringComparison.Ordinal))
            .Select(l => l.Split('|').Select(c => c.Trim()).ToArray()).ToList();
        Assert.Equal(HaRules.All.Count, rows.Count);
        for (int i = 0; i < rows.Count; i++)
        {
            HaRule r = HaRules.All[i];
            string from = r.From.Length == Enum.GetValues<S>().Length ? "any" : string.Join(", ", r.From);
            Assert.Equal([from, r.Event.ToString(), r.GuardText, r.ToText, r.Why], rows[i][1..6]);
        }
    }

    [Fact]
    public void Terms_are_durable_so_a_restarted_card_refuses_a_stale_one()
    {
        string path = Path.Combine(Path.GetTempPath(), $"snic-terms-{Guid.NewGuid():N}.json");
        try
        {
            var store = new HaTermStore(path);
            var m = new HaStateMachine("eni-scope", 2, 1, store);
            m.Apply(Ev(E.Configure, 7, HaRole.Standby));
            var restarted = new HaStateMachine("eni-scope", 2, 1, new HaTermStore(path));
            Assert.Equal(7, restarted.Term);
            Assert.True(restarted.Apply(Ev(E.Configure, 6, HaRole.Active)).Refused);
            Assert.Equal(0, new HaStateMachine("other-scope", 2, 1, new HaTermStore(path)).Term);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Split_brain_cannot_happen_however_the_test_tries()
    {
        // 1. A faulty management plane makes both active under the same term: at first contact
        //    the tie breaks by card id, exactly one keeps forwarding.
        HaStateMachine a = Reach(S.Standalone, card: 1, peer: 2);
        HaStateMachine b = Reach(S.Standalone, card: 2, peer: 1);
        Exchange(a, b);
        Assert.True(a.Forwards ^ b.Forwards, $"a {a.State}, b {b.State}");

        // 2. The standby loses the active but gets no term from the witness: it stays standby
        //    while the active (which still hears the witness) forwards alone.
        HaStateMachine active = Reach(S.Active, card: 1, peer: 2);
        HaStateMachine standby = Reach(S.Standby, HaRole.Standby, card: 2, peer: 1);
        active.Apply(Ev(E.PeerLost));
        standby.Apply(Ev(E.PeerLost));
        Assert.True(active.Forwards);
        Assert.False(standby.Forwards);

        // 3. The witness grants the standby term 2 only after the active went silent for it; the
        //    active, hearing neither, has fenced itself by then. When the partition heals, the
        //    old active (term 1) sees term 2 and stays out.
        active.Apply(Ev(E.WitnessLost));
        Assert.False(active.Forwards);
        Assert.False(standby.Apply(Ev(E.TakeoverGranted, 2)).Refused);
        Assert.True(standby.Forwards);
        active.Apply(Ev(E.WitnessUp));
        active.Apply(Ev(E.Configure, 1, HaRole.Active)); // a stale re-pairing retried by an old management command
        active.Apply(Ev(E.PeerUp));
        Exchange(active, standby);
        Assert.True(active.Forwards ^ standby.Forwards, $"old {active.State}, new {standby.State}");
        Assert.True(standby.Forwards);

        // 4. Seeded random event storms to both cards, with a management plane that issues each
        //    term once: after every exchange of state, never two forwarding.
        int seed = Environment.TickCount;
        TestSeeds.Run(seed, r =>
        {
            for (int run = 0; run < 200; run++)
            {
                HaStateMachine x = Reach(S.Active, card: 1, peer: 2);
                HaStateMachine y = Reach(S.Standby, HaRole.Standby, card: 2, peer: 1);
                long nextTerm = 2;
                for (int step = 0; step < 60; step++)
                {
                    HaStateMachine m = r.Next(2) == 0 ? x : y;
                    HaEvent e = r.Next(9) switch
                    {
                        0 => Ev(E.PeerLost),
                        1 => Ev(E.PeerUp),
                        2 => Ev(E.WitnessLost),
                        3 => Ev(E.WitnessUp),
                        4 => Ev(E.Drained),
                        5 => Ev(E.BulkSyncDone),
                        6 => Ev(E.Switchover, nextTerm++),
                        7 => Ev(E.TakeoverGranted, nextTerm++),
                        _ => Ev(E.Configure, nextTerm++, r.Next(2) == 0 ? HaRole.Active : HaRole.Standby),
                    };
                    m.Apply(e);
                    Exchange(x, y);
                    Assert.False(x.Forwards && y.Forwards, $"seed {seed} run {run} step {step}: both forward ({x.State} term {x.Term}, {y.State} term {y.Term}) after {e}");
                }
            }
        });
    }

    // The cards hear each other's probes: each sees the other's state and term.
    private static void Exchange(HaStateMachine a, HaStateMachine b)
    {
        for (int i = 0; i < 2; i++)
        {
            a.Apply(Peer(b.State, b.Term));
            b.Apply(Peer(a.State, a.Term));
        }
    }
}
