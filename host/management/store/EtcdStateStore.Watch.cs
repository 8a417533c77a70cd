using System.Runtime.CompilerServices;
using Etcdserverpb;
using Grpc.Core;

namespace SnicRuntime.Management.Store;

/// <summary>Watches that survive a member's death, and leases.</summary>
public sealed partial class EtcdStateStore
{
    public async IAsyncEnumerable<WatchEvent> Watch(string prefix, long fromRevision, [EnumeratorCancellation] CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        // 0 means "from now": pin "now" first, so a reconnect after a member's death resumes from
        // the same point instead of skipping what changed while it reconnected.
        long next = fromRevision > 0 ? fromRevision : await Revision(cancel) + 1;
        int member = _current;
        while (true)
        {
            cancel.ThrowIfCancellationRequested();
            // "hasleader": the member ends the watch when it loses its leader, instead of going
            // silent behind a partition (etcd's clientv3 WithRequireLeader).
            var headers = new Metadata { { "hasleader", "true" } };
            foreach (Metadata.Entry h in _headers)
            {
                headers.Add(h);
            }

            using AsyncDuplexStreamingCall<WatchRequest, WatchResponse> call = new Etcdserverpb.Watch.WatchClient(_channels[member]).Watch(new CallOptions(headers, null, cancel));
            bool opened = false;
            try
            {
                await call.RequestStream.WriteAsync(new WatchRequest
                {
                    CreateRequest = new WatchCreateRequest { Key = Key(prefix), RangeEnd = PrefixEnd(Key(prefix)), StartRevision = next, PrevKv = true },
                }, cancel);
                opened = true;
            }
            catch (RpcException) when (!cancel.IsCancellationRequested)
            {
            }
            catch (InvalidOperationException) when (!cancel.IsCancellationRequested)
            {
            }

            while (opened)
            {
                WatchResponse response;
                try
                {
                    if (!await call.ResponseStream.MoveNext(cancel))
                    {
                        break;
                    }

                    response = call.ResponseStream.Current;
                }
                catch (RpcException e) when (e.StatusCode == StatusCode.Cancelled && cancel.IsCancellationRequested)
                {
                    throw new OperationCanceledException(cancel);
                }
                catch (RpcException e) when (e.StatusCode == StatusCode.Unauthenticated && _user is not null)
                {
                    _headers = []; // log in again on the next call
                    break;
                }
                catch (RpcException)
                {
                    break; // this member is gone or lost its leader: resume on the next one from `next`
                }

                if (response.CompactRevision > 0)
                {
                    throw new StoreException($"etcd: the history of '{prefix}' before revision {response.CompactRevision} was compacted; read the current state and watch from its revision");
                }

                if (response.Canceled)
                {
                    break;
                }

                // etcd never splits a revision between responses (a response holds whole revisions).
                for (int i = 0; i < response.Events.Count; i++)
                {
                    Mvccpb.Event e = response.Events[i];
                    bool put = e.Type == Mvccpb.Event.Types.EventType.Put;
                    StoreEntry entry = put || e.PrevKv is null ? Entry(e.Kv) : Entry(e.PrevKv);
                    bool ends = i == response.Events.Count - 1 || response.Events[i + 1].Kv.ModRevision != e.Kv.ModRevision;
                    next = ends ? e.Kv.ModRevision + 1 : next; // a reconnect never resumes inside a revision
                    yield return new WatchEvent(put ? WatchEventKind.Put : WatchEventKind.Delete, entry, e.Kv.ModRevision, ends);
                }
            }

            if (_user is not null && _headers.Count == 0)
            {
                await Revision(cancel); // logs in again
            }

            member = (member + 1) % _channels.Length;
            await Task.Delay(TimeSpan.FromMilliseconds(50), cancel);
        }
    }

    public Task<long> GrantLease(TimeSpan ttl, CancellationToken cancel = default)
    {
        if (ttl <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(ttl), ttl, "a lease needs a positive time to live");
        }

        // etcd counts TTLs in whole seconds and raises short ones to its floor (1.5 election timeouts).
        var request = new LeaseGrantRequest { TTL = (long)Math.Ceiling(ttl.TotalSeconds) };
        return Call("grant a lease", false, async (c, o) =>
        {
            LeaseGrantResponse r = await new Lease.LeaseClient(c).LeaseGrantAsync(request, o);
            return r.Error.Length > 0 ? throw new StoreException($"etcd refused a lease: {r.Error}") : r.ID;
        }, cancel);
    }

    public Task KeepAlive(long lease, CancellationToken cancel = default) =>
        Call($"keep lease {lease} alive", true, async (c, o) =>
        {
            using AsyncDuplexStreamingCall<LeaseKeepAliveRequest, LeaseKeepAliveResponse> call = new Lease.LeaseClient(c).LeaseKeepAlive(o);
            await call.RequestStream.WriteAsync(new LeaseKeepAliveRequest { ID = lease }, o.CancellationToken);
            await call.RequestStream.CompleteAsync();
            if (!await call.ResponseStream.MoveNext(o.CancellationToken) || call.ResponseStream.Current.TTL <= 0)
            {
                throw new StoreException($"lease {lease} has expired or was revoked");
            }

            return true;
        }, cancel);

    public Task Revoke(long lease, CancellationToken cancel = default) =>
        Call($"revoke lease {lease}", false, async (c, o) =>
        {
            try
            {
                await new Lease.LeaseClient(c).LeaseRevokeAsync(new LeaseRevokeRequest { ID = lease }, o);
            }
            catch (RpcException e) when (e.Status.Detail.Contains("lease not found", StringComparison.Ordinal))
            {
                // already gone: revoking is idempotent
            }

            return true;
        }, cancel);
}
