using System.Collections.Immutable;

namespace SnicRuntime.Management.Store;

/// <summary>
/// One prefix of the store held in memory and kept current by a watch (what etcd's clients call a
/// reflector or informer): read once, then only what changes. Readers take <see cref="Current"/>,
/// an immutable view that holds whole revisions only — a transaction's changes appear together or
/// not at all — so the view is always a state the store really had. A watch that cannot go on
/// (its history was compacted) reads the prefix again; every change, and every such re-read, is
/// told to <paramref name="changed"/>, which gets the changed keys (null: anything may have changed).
/// </summary>
public sealed class StoreMirror(IStateStore store, string prefix, Action<IReadOnlyList<string>?>? changed = null) : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private TaskCompletionSource _advanced = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private View _view = new(ImmutableDictionary<string, StoreEntry>.Empty.WithComparers(StringComparer.Ordinal), 0);
    private Task _watching = Task.CompletedTask;

    /// <summary>The entries under the prefix as of <see cref="Revision"/> (the last whole revision applied).</summary>
    public sealed record View(ImmutableDictionary<string, StoreEntry> Entries, long Revision);

    public string Prefix => prefix;

    public View Current => Volatile.Read(ref _view);

    /// <summary>Reads the prefix and starts following it; returns once the first view is in place.</summary>
    public async Task Start(CancellationToken cancel = default)
    {
        long revision = await Load(cancel);
        _watching = Task.Run(() => Follow(revision), CancellationToken.None);
    }

    /// <summary>
    /// Waits until the view holds revision <paramref name="revision"/> (a write of one's own, so
    /// the next read sees it); false when that did not happen within <paramref name="wait"/>.
    /// </summary>
    public async Task<bool> Reach(long revision, TimeSpan wait, CancellationToken cancel = default)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        timeout.CancelAfter(wait);
        try
        {
            while (true)
            {
                // The signal is taken before the view is looked at: a view published in between
                // completes this signal, so the wake-up is never missed.
                Task advanced = Volatile.Read(ref _advanced).Task;
                if (Current.Revision >= revision)
                {
                    return true;
                }

                await advanced.WaitAsync(timeout.Token);
            }
        }
        catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
        {
            return false;
        }
    }

    private async Task<long> Load(CancellationToken cancel)
    {
        (IReadOnlyList<StoreEntry> entries, long revision) = await store.Range(prefix, cancel);
        Publish(new View(entries.ToImmutableDictionary(e => e.Key, StringComparer.Ordinal), revision));
        changed?.Invoke(null);
        return revision;
    }

    private async Task Follow(long revision)
    {
        CancellationToken stop = _stop.Token;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                ImmutableDictionary<string, StoreEntry>.Builder? pending = null;
                var keys = new List<string>();
                await foreach (WatchEvent e in store.Watch(prefix, revision + 1, stop))
                {
                    pending ??= Current.Entries.ToBuilder();
                    if (e.Kind == WatchEventKind.Put)
                    {
                        pending[e.Entry.Key] = e.Entry;
                    }
                    else
                    {
                        pending.Remove(e.Entry.Key);
                    }

                    keys.Add(e.Entry.Key);
                    if (e.EndsRevision)
                    {
                        revision = e.Revision;
                        Publish(new View(pending.ToImmutable(), revision));
                        changed?.Invoke(keys);
                        (pending, keys) = (null, []);
                    }
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is StoreException || !stop.IsCancellationRequested)
            {
                // The history it needed is gone (compacted) or the store refused: read it whole again.
                try
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(100), stop);
                    revision = await Load(stop);
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception again) when (again is not OperationCanceledException)
                {
                    // still unreachable (or the file busy): try again
                }
            }
        }
    }

    private void Publish(View view)
    {
        Volatile.Write(ref _view, view);
        Interlocked.Exchange(ref _advanced, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _watching.ContinueWith(_ => { }, TaskScheduler.Default);
        _stop.Dispose();
    }
}
