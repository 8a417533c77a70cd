using System.Text;
using SnicRuntime.Management.Store;
using Xunit;

namespace SnicRuntime.Tests.Host.Management.Store;

/// <summary>Whole revisions along a watch, and the mirror built on them: a transaction is never seen in part.</summary>
public abstract partial class StateStoreContract
{
    [SkippableFact]
    public async Task A_watch_marks_the_last_change_of_each_transaction_even_past_a_page_of_history()
    {
        // Ten transactions of 120 puts (under etcd's 128 operations): 1,200 events, so SQLite's
        // page of a thousand ends inside the ninth transaction, which must still arrive whole.
        long from = await Store.Revision() + 1;
        for (int t = 0; t < 10; t++)
        {
            TxnResult r = await Store.Txn([], [.. Enumerable.Range(0, 120).Select(i => StoreOp.Put($"/big/{t:D2}/{i:D3}", Encoding.UTF8.GetBytes("v")))]);
            Assert.True(r.Succeeded);
        }

        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var seen = new List<WatchEvent>();
        await foreach (WatchEvent e in Store.Watch("/big/", from, cancel.Token))
        {
            seen.Add(e);
            if (seen.Count == 1200)
            {
                break;
            }
        }

        Assert.Equal(1200, seen.Select(e => e.Entry.Key).Distinct().Count());
        Assert.Equal(10, seen.Select(e => e.Revision).Distinct().Count());
        for (int i = 0; i < seen.Count; i++)
        {
            Assert.True(seen[i].EndsRevision == (i % 120 == 119), $"event {i} ({seen[i].Entry.Key}) EndsRevision={seen[i].EndsRevision}");
        }
    }

    [SkippableFact]
    public async Task A_mirror_shows_whole_transactions_follows_puts_and_deletes_and_reaches_a_revision()
    {
        await Store.Put("/m/seed", Encoding.UTF8.GetBytes("0"));
        var told = new List<IReadOnlyList<string>?>();
        await using var mirror = new StoreMirror(Store, "/m/", keys => { lock (told) { told.Add(keys); } });
        await mirror.Start();
        Assert.Equal(["/m/seed"], mirror.Current.Entries.Keys);

        // A writer replaces a trio of keys per transaction; a reader checks every view it takes
        // holds each trio whole or not at all.
        await using IStateStore other = OpenAnotherClient();
        using var done = new CancellationTokenSource();
        int views = 0;
        Task reader = Task.Run(async () =>
        {
            while (!done.IsCancellationRequested)
            {
                StoreMirror.View v = mirror.Current;
                foreach (IGrouping<string, string> trio in v.Entries.Keys.Where(k => k.StartsWith("/m/t", StringComparison.Ordinal)).GroupBy(k => k[..6]))
                {
                    Assert.True(trio.Count() == 3, $"revision {v.Revision} holds {trio.Count()} of trio {trio.Key}");
                }

                views++;
                await Task.Yield();
            }
        });
        long last = 0;
        for (int t = 0; t < 20; t++)
        {
            List<StoreOp> ops = [.. "abc".Select(c => StoreOp.Put($"/m/t{t:D2}{c}", Encoding.UTF8.GetBytes("x")))];
            if (t > 0)
            {
                ops.AddRange("abc".Select(c => StoreOp.Delete($"/m/t{t - 1:D2}{c}")));
            }

            last = (await other.Txn([], ops)).Revision;
        }

        Assert.True(await mirror.Reach(last, TimeSpan.FromSeconds(10)), $"the mirror did not reach revision {last}");
        await done.CancelAsync();
        await reader;
        Assert.True(views > 0);
        Assert.Equal(["/m/seed", "/m/t19a", "/m/t19b", "/m/t19c"], mirror.Current.Entries.Keys.Order(StringComparer.Ordinal));
        Assert.Equal((await Store.Range("/m/")).Entries.Select(e => (e.Key, e.ModRevision)), mirror.Current.Entries.Values.OrderBy(e => e.Key, StringComparer.Ordinal).Select(e => (e.Key, e.ModRevision)));
        lock (told)
        {
            Assert.Null(told[0]); // the first read: anything may have changed
            Assert.Contains(told.Skip(1), k => k is not null && k.Contains("/m/t19a") && k.Contains("/m/t18c"));
        }
    }
}
