using SnicRuntime.Management.Store;

namespace SnicRuntime.Management.Fleet;

/// <summary>
/// Leader election among any number of controllers sharing one store, on a lease (as etcd's own
/// election recipe): each controller keeps a lease alive and announces itself under it; the one
/// whose transaction "create /controllers/leader if absent" wins leads. The others watch that key
/// and campaign the moment it is deleted — which the store does by itself when the leader's lease
/// lapses (SIGKILL, partition), so no controller is a single point of failure.
///
/// Fencing, twice over. The leader stops acting before its lease can expire in the store: a
/// keep-alive sent at time t keeps the lease at least until t + TTL there, so leadership is
/// local-valid only until (last keep-alive sent) + TTL − margin. And every write a leader makes
/// as leader carries <see cref="Fence"/> (compare: the leader key's revision is still the one it
/// created), so a leader deposed while paused — GC, a stalled VM — cannot write when it wakes.
/// </summary>
public sealed class ControllerElection(IStateStore store, string id, TimeSpan? ttl = null, TimeProvider? clock = null)
{
    private readonly TimeSpan _ttl = ttl ?? TimeSpan.FromSeconds(1);
    private readonly TimeProvider _clock = clock ?? TimeProvider.System;
    private long _validUntilTicks;
    private volatile bool _leading;
    private long _fence;

    public string Id => id;

    /// <summary>True while this controller leads and its lease is certainly alive in the store.</summary>
    public bool IsLeader => _leading && _clock.GetUtcNow().UtcTicks < Interlocked.Read(ref _validUntilTicks);

    /// <summary>The store revision at which this controller became leader: its writes compare the leader key against it.</summary>
    public long Fence => Interlocked.Read(ref _fence);

    /// <summary>The compare every leader-only write carries: the leader key is still the one this controller created.</summary>
    public StoreCompare FenceCompare => StoreCompare.ModRevisionIs(FleetKeys.Leader, Fence);

    /// <summary>Margin kept between the local end of leadership and the store's (clock-rate differences, a slow keep-alive answer).</summary>
    private TimeSpan Margin => _ttl / 5;

    /// <summary>
    /// Campaigns until cancelled. While leading, runs <paramref name="lead"/> with a token that is
    /// cancelled the moment leadership can no longer be vouched for; <paramref name="report"/> hears
    /// elections, pauses and depositions.
    ///
    /// A leader whose keep-alive goes unanswered past its local validity (an etcd election under
    /// way, a slow member) pauses: its work is cancelled, as fencing requires, but it keeps its
    /// lease and its leader key. When the store answers again with the lease alive (etcd extends
    /// leases across its own elections) and the leader key still carries its fence, it leads again
    /// at once, with the same fence — no new campaign, no gap while followers notice and race.
    /// A lease the store let lapse ends the session; then it campaigns like anyone else.
    /// </summary>
    public async Task Run(Func<CancellationToken, Task> lead, Action<string> report, CancellationToken cancel)
    {
        ArgumentNullException.ThrowIfNull(lead);
        ArgumentNullException.ThrowIfNull(report);
        var record = new ControllerRecord(id, Environment.MachineName, Environment.ProcessId, _clock.GetUtcNow());
        while (!cancel.IsCancellationRequested)
        {
            long lease = 0;
            using var session = CancellationTokenSource.CreateLinkedTokenSource(cancel);
            CancellationTokenSource? leading = null;
            Task work = Task.CompletedTask;
            bool held = false; // this session holds the leader key (leading, or paused)

            // Work runs under a token that lapses with the lease's local validity; each keep-alive
            // pushes that back. If it lapses, the work stops and leadership pauses.
            async Task StartWork()
            {
                await work.ContinueWith(_ => { }, TaskScheduler.Default); // a paused leader's work has ended before new work starts
                leading?.Dispose();
                leading = CancellationTokenSource.CreateLinkedTokenSource(session.Token);
                CancellationTokenSource mine = leading;
                mine.Token.Register(() =>
                {
                    if (!session.IsCancellationRequested && _leading)
                    {
                        _leading = false;
                        report($"controller '{id}' pauses: the store has not confirmed its lease in time (it keeps the lease and resumes when the store answers)");
                    }
                });
                _leading = true;
                Prolong(mine);
                work = Task.Run(() => lead(mine.Token), CancellationToken.None);
            }

            try
            {
                DateTimeOffset sent = _clock.GetUtcNow();
                lease = await store.GrantLease(_ttl, session.Token);
                Extend(sent);
                await store.Put(FleetKeys.Member(id), FleetJson.Bytes(record, FleetJson.Default.ControllerRecord), lease, session.Token);
                Task<bool> leaderGone = LeaderGone(session.Token);
                DateTimeOffset lastKeepAlive = sent;
                while (true)
                {
                    if (!held && leaderGone.IsCompleted)
                    {
                        TxnResult won = await store.Txn([StoreCompare.Absent(FleetKeys.Leader)],
                            [StoreOp.Put(FleetKeys.Leader, FleetJson.Bytes(record with { Since = _clock.GetUtcNow() }, FleetJson.Default.ControllerRecord), lease)], null, session.Token);
                        if (won.Succeeded)
                        {
                            Interlocked.Exchange(ref _fence, won.Revision);
                            held = true;
                            report($"controller '{id}' leads (fence revision {won.Revision})");
                            await StartWork();
                        }
                        else
                        {
                            // Someone else leads: watch its key (never more than one campaign per 20 ms).
                            await Task.Delay(TimeSpan.FromMilliseconds(20), _clock, session.Token);
                            leaderGone = LeaderGone(session.Token);
                        }
                    }
                    else if (held && !_leading && Valid)
                    {
                        // Paused, and the store has confirmed the lease since: lead again if the key is still ours.
                        StoreEntry? key = await store.Get(FleetKeys.Leader, session.Token);
                        if (key is null || key.ModRevision != Fence)
                        {
                            throw new StoreException($"controller '{id}' lost the leader key while paused");
                        }

                        report($"controller '{id}' leads again (fence revision {Fence})");
                        await StartWork();
                    }

                    // Keep-alive every third of the TTL, whatever else happens; a follower also
                    // wakes when the leader key goes, to campaign at once.
                    TimeSpan untilKeepAlive = lastKeepAlive + _ttl / 3 - _clock.GetUtcNow();
                    if (untilKeepAlive > TimeSpan.Zero)
                    {
                        Task tick = Task.Delay(untilKeepAlive, _clock, session.Token);
                        await Task.WhenAny(tick, held ? tick : leaderGone);
                        session.Token.ThrowIfCancellationRequested();
                        if (_clock.GetUtcNow() < lastKeepAlive + _ttl / 3)
                        {
                            continue; // the leader key went: campaign now
                        }
                    }

                    sent = _clock.GetUtcNow();
                    await store.KeepAlive(lease, session.Token);
                    Extend(sent);
                    lastKeepAlive = sent;
                    if (_leading)
                    {
                        Prolong(leading!);
                        if (work.IsCompleted)
                        {
                            await work; // the leader's work ended by itself: surface its failure
                        }
                    }
                }
            }
            catch (OperationCanceledException) when (session.IsCancellationRequested)
            {
                // stopped
            }
            catch (StoreException e)
            {
                report($"controller '{id}': {e.Message}");
            }
            finally
            {
                bool was = held;
                _leading = false;
                if (was)
                {
                    report($"controller '{id}' no longer leads");
                }

                if (leading is not null)
                {
                    await leading.CancelAsync();
                    await work.ContinueWith(_ => { }, TaskScheduler.Default);
                    leading.Dispose();
                }
            }

            // End the session's lease now (best effort): its leader and member keys go at once,
            // instead of a stale leader key keeping everyone waiting for the TTL.
            if (lease != 0)
            {
                using var quick = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                try
                {
                    await store.Revoke(lease, quick.Token);
                }
                catch (Exception e) when (e is StoreException or OperationCanceledException)
                {
                }
            }

            if (!cancel.IsCancellationRequested)
            {
                await Task.Delay(_ttl / 5, cancel).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    /// <summary>Whether the store has confirmed the lease recently enough to act on it.</summary>
    private bool Valid => _clock.GetUtcNow().UtcTicks < Interlocked.Read(ref _validUntilTicks);

    /// <summary>Cancels the leader's work when the lease's local validity runs out (unless a keep-alive prolongs it first).</summary>
    private void Prolong(CancellationTokenSource leading)
    {
        TimeSpan left = new DateTimeOffset(Interlocked.Read(ref _validUntilTicks), TimeSpan.Zero) - _clock.GetUtcNow();
        try
        {
            if (left <= TimeSpan.Zero)
            {
                leading.Cancel();
            }
            else
            {
                leading.CancelAfter(left);
            }
        }
        catch (ObjectDisposedException)
        {
        }
    }

    /// <summary>The current leader, or null when none leads.</summary>
    public static async Task<ControllerRecord?> Leader(IStateStore store, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        StoreEntry? e = await store.Get(FleetKeys.Leader, cancel);
        return e is null ? null : FleetJson.Read(e, FleetJson.Default.ControllerRecord);
    }

    /// <summary>Every live controller.</summary>
    public static async Task<IReadOnlyList<ControllerRecord>> Members(IStateStore store, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        return [.. (await store.Range(FleetKeys.Members, cancel)).Entries.Select(e => FleetJson.Read(e, FleetJson.Default.ControllerRecord))];
    }

    private void Extend(DateTimeOffset sent) => Interlocked.Exchange(ref _validUntilTicks, (sent + _ttl - Margin).UtcTicks);

    /// <summary>Completes (true) when the leader key is deleted, or at once when there is no leader.</summary>
    private async Task<bool> LeaderGone(CancellationToken cancel)
    {
        try
        {
            StoreEntry? now = await store.Get(FleetKeys.Leader, cancel);
            if (now is null)
            {
                return true;
            }

            await foreach (WatchEvent e in store.Watch(FleetKeys.Leader, now.ModRevision + 1, cancel))
            {
                if (e.Kind == WatchEventKind.Delete && e.Entry.Key == FleetKeys.Leader)
                {
                    return true;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (StoreException)
        {
            return true; // the store hiccupped: campaign again, the transaction decides
        }

        return false;
    }
}
