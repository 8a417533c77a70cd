using SnicRuntime.Management.Store;

namespace SnicRuntime.Management.Fleet;

/// <summary>
/// The leader's loop and what keeps it cheap: the desired state mirrored from the store
/// (<see cref="StoreMirror"/>), rounds computed from the mirrors, and followers kept warm.
/// </summary>
public sealed partial class FleetDelivery
{
    private readonly SemaphoreSlim _computing = new(1, 1), _mirrorsGate = new(1, 1), _warmSignal = new(0);
    private StoreMirror[]? _mirrors;
    private Action? _wake; // the leader's loop, while it runs

    /// <summary>
    /// The leader's loop: a round whenever the plan, a set or a placement changes (watched), and
    /// every <paramref name="every"/> besides, to catch cards that restarted or came back.
    /// </summary>
    public async Task Run(TimeSpan every, Action<CardOutcome> report, Action<string> warn, CancellationToken cancel)
    {
        ArgumentNullException.ThrowIfNull(report);
        ArgumentNullException.ThrowIfNull(warn);
        using var changed = new SemaphoreSlim(0);
        CancellationTokenSource preempt = new();
        void Changed()
        {
            changed.Release();
            Volatile.Read(ref preempt).Cancel(); // the round under way stops asking in-sync cards
        }

        // Verification is spread: each quiet period asks one slot's cards, so every card is asked
        // once per VerifyEvery and a change never waits behind a round that asks them all.
        int slots = Math.Max(1, (int)(VerifyEvery / every)), slot = 0;
        Func<string, bool> none = _ => false;
        Func<string, bool> verify = none; // the first round (a new leader's) delivers changes first
        Volatile.Write(ref _wake, Changed);
        try
        {
            while (!cancel.IsCancellationRequested)
            {
                try
                {
                    StoreMirror[] mirrors = await Mirrors(cancel);
                    Volatile.Write(ref preempt, new CancellationTokenSource()); // not disposed: a mirror may still cancel the old one
                    DateTimeOffset started = DateTimeOffset.UtcNow;
                    (IReadOnlyList<CardOutcome> outcomes, long recorded) = await Round(await Compute(mirrors, cancel), started, verify, cancel, preempt.Token);
                    foreach (CardOutcome o in outcomes)
                    {
                        report(o);
                    }

                    // The next round reads the records this one wrote (a card not seen acked would be asked again).
                    await mirrors[Cards].Reach(recorded, CardTimeout, cancel);
                    bool woken = await changed.WaitAsync(every, cancel);
                    int current = slot;
                    verify = woken ? none : name => (uint)StableHash(name) % (uint)slots == (uint)current;
                    slot = woken ? slot : (slot + 1) % slots;
                    while (changed.CurrentCount > 0)
                    {
                        await changed.WaitAsync(cancel); // one round covers every change seen so far
                    }
                }
                catch (OperationCanceledException) when (cancel.IsCancellationRequested)
                {
                    break;
                }
                catch (StoreException e)
                {
                    warn(e.Message);
                    await Task.Delay(every, cancel).ContinueWith(_ => { }, TaskScheduler.Default);
                }
            }
        }
        finally
        {
            Volatile.Write(ref _wake, null);
        }
    }

    /// <summary>
    /// Keeps a controller that does not lead ready to: the desired state mirrored and every share
    /// cut as it changes, so the first round after a takeover costs what a change costs, not a
    /// cold read of the whole fleet (and its code is already compiled).
    /// </summary>
    public async Task Warm(CancellationToken cancel)
    {
        while (!cancel.IsCancellationRequested)
        {
            try
            {
                StoreMirror[] mirrors = await Mirrors(cancel);
                if (Volatile.Read(ref _wake) is null)
                {
                    await Compute(mirrors, cancel); // while leading, the rounds do this
                }

                await _warmSignal.WaitAsync(cancel);
            }
            catch (OperationCanceledException) when (cancel.IsCancellationRequested)
            {
                return;
            }
            catch (StoreException)
            {
                await Task.Delay(TimeSpan.FromSeconds(1), cancel).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    private const int Plan = 0, Sets = 1, Enis = 2, Cards = 3;

    /// <summary>The mirrors of what delivery reads (plan, sets, ENI placements, cards), started on first use and kept until disposal.</summary>
    private async Task<StoreMirror[]> Mirrors(CancellationToken cancel)
    {
        await _mirrorsGate.WaitAsync(cancel);
        try
        {
            if (_mirrors is not null)
            {
                return _mirrors;
            }

            StoreMirror[] made = [new(store, FleetKeys.PlanPrefix, _ => OnChanged()), new(store, FleetKeys.Sets, _ => OnChanged()),
                new(store, FleetKeys.Enis, _ => OnChanged()), new(store, FleetKeys.Cards)];
            try
            {
                foreach (StoreMirror m in made)
                {
                    await m.Start(cancel);
                }
            }
            catch
            {
                foreach (StoreMirror m in made)
                {
                    await m.DisposeAsync();
                }

                throw;
            }

            return _mirrors = made;
        }
        finally
        {
            _mirrorsGate.Release();
        }
    }

    /// <summary>A plan, set or placement changed: the leader's loop runs a round, a follower cuts the shares again.</summary>
    private void OnChanged()
    {
        Volatile.Read(ref _wake)?.Invoke();
        if (_warmSignal.CurrentCount == 0)
        {
            _warmSignal.Release();
        }
    }

    private async Task<DeliveryState.Input> Compute(StoreMirror[] mirrors, CancellationToken cancel)
    {
        await _computing.WaitAsync(cancel);
        try
        {
            (IEnumerable<StoreEntry>, long) Of(int i)
            {
                StoreMirror.View v = mirrors[i].Current;
                return (v.Entries.Values, v.Revision);
            }

            return _state.Compute(Of(Plan), Of(Sets), Of(Enis), Of(Cards));
        }
        finally
        {
            _computing.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (StoreMirror m in _mirrors ?? [])
        {
            await m.DisposeAsync();
        }

        foreach (AgentClient client in _agents.Values.Concat(_replaced))
        {
            client.Dispose();
        }

        _agents.Clear();
    }

    private static int StableHash(string s)
    {
        int h = 17;
        foreach (char c in s)
        {
            h = unchecked((h * 31) + c);
        }

        return h & int.MaxValue;
    }
}
