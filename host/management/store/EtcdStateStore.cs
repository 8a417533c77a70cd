using System.Net.Http;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;

namespace SnicRuntime.Management.Store;

/// <summary>
/// The distributed backend of <see cref="IStateStore"/>: an etcd v3 cluster, through the gRPC API
/// that the dotnet-etcd package generates from etcd's protos (KV, Watch, Lease, Auth).
///
/// We keep one channel per member and pick members ourselves instead of using the package's
/// client object, because failover is the point of this backend: its default retry policy waits a
/// second and more between attempts and retries writes that may already have been applied. Here
/// a call moves to the next member at once when the one it asked is unreachable or has no leader
/// (nothing was proposed, so a write is safe to resend), and keeps trying across members until
/// its deadline; any other failure is reported as it is, because a write that timed out may or
/// may not have been committed and only the caller can decide (it re-reads and compares).
/// </summary>
public sealed partial class EtcdStateStore : IStateStore
{
    private readonly StoreAddress _address;
    private readonly GrpcChannel[] _channels;
    private readonly TimeSpan _timeout;
    private readonly string? _user;
    private readonly string? _password;
    private readonly ByteString _root;
    private volatile int _current;
    private volatile Metadata _headers = [];

    public EtcdStateStore(StoreAddress address, EtcdTls? tls = null, string? user = null, string? password = null, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (!address.IsEtcd || address.Endpoints.Count == 0)
        {
            throw new ArgumentException($"{address} is not an etcd address", nameof(address));
        }

        _address = address;
        _timeout = timeout ?? TimeSpan.FromSeconds(5);
        _user = user;
        _password = password;
        _root = ByteString.CopyFromUtf8(address.Namespace);
        _channels = address.Endpoints.Select(e => Channel(e, address.Tls, tls)).ToArray();
    }

    public StoreAddress Address => _address;

    private static GrpcChannel Channel(string endpoint, bool useTls, EtcdTls? tls)
    {
        var handler = new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = true,
            ConnectTimeout = TimeSpan.FromSeconds(1),
            // A member that died without closing its socket is noticed by the pings, not by a call's deadline.
            KeepAlivePingDelay = TimeSpan.FromSeconds(2),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(2),
            KeepAlivePingPolicy = HttpKeepAlivePingPolicy.Always,
        };
        if (useTls)
        {
            handler.SslOptions = TlsOptions(endpoint, tls ?? new EtcdTls());
        }

        return GrpcChannel.ForAddress($"{(useTls ? "https" : "http")}://{endpoint}", new GrpcChannelOptions
        {
            HttpHandler = handler,
            MaxReceiveMessageSize = 64 << 20,
            DisposeHttpClient = true,
        });
    }

    private static SslClientAuthenticationOptions TlsOptions(string endpoint, EtcdTls tls)
    {
        var options = new SslClientAuthenticationOptions { TargetHost = endpoint[..endpoint.LastIndexOf(':')] };
        try
        {
            if (tls.CertFile is not null)
            {
                options.ClientCertificates = [X509Certificate2.CreateFromPemFile(tls.CertFile, tls.KeyFile)];
            }

            if (tls.CaFile is not null)
            {
                var ca = X509CertificateLoader.LoadCertificateFromFile(tls.CaFile);
                options.RemoteCertificateValidationCallback = (_, cert, _, errors) =>
                {
                    if (cert is null)
                    {
                        return false;
                    }

                    // Only the name check is taken from the platform; the chain must end at our CA, not the system's roots.
                    if ((errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
                    {
                        return false;
                    }

                    using var chain = new X509Chain();
                    chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                    chain.ChainPolicy.CustomTrustStore.Add(ca);
                    chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                    return chain.Build(new X509Certificate2(cert));
                };
            }
        }
        catch (Exception e) when (e is IOException or System.Security.Cryptography.CryptographicException or UnauthorizedAccessException)
        {
            throw new StoreException($"etcd TLS files (ca {tls.CaFile ?? "-"}, cert {tls.CertFile ?? "-"}, key {tls.KeyFile ?? "-"}): {e.Message}", e);
        }

        return options;
    }

    public Task<long> Revision(CancellationToken cancel = default) =>
        Call("read the revision", true, async (i, o) =>
            (await new KV.KVClient(i).RangeAsync(new RangeRequest { Key = _root.Concat("\0"), CountOnly = true }, o)).Header.Revision, cancel);

    public Task<StoreEntry?> Get(string key, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        return Call($"read '{key}'", true, async (i, o) =>
        {
            RangeResponse r = await new KV.KVClient(i).RangeAsync(new RangeRequest { Key = Key(key) }, o);
            return r.Kvs.Count == 0 ? null : Entry(r.Kvs[0]);
        }, cancel);
    }

    public async Task<(IReadOnlyList<StoreEntry> Entries, long Revision)> Range(string prefix, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        // Pages of 1000 keys, all read at the first page's revision, so the result is one snapshot
        // however large and no response nears gRPC's message limit.
        const int page = 1000;
        ByteString end = PrefixEnd(Key(prefix));
        ByteString from = Key(prefix);
        long revision = 0;
        var entries = new List<StoreEntry>();
        while (true)
        {
            var request = new RangeRequest { Key = from, RangeEnd = end, Limit = page, Revision = revision };
            RangeResponse r = await Call($"read the keys under '{prefix}'", true, async (i, o) => await new KV.KVClient(i).RangeAsync(request, o), cancel);
            revision = revision == 0 ? r.Header.Revision : revision;
            entries.AddRange(r.Kvs.Select(Entry));
            if (!r.More || r.Kvs.Count == 0)
            {
                return (entries, revision);
            }

            from = r.Kvs[^1].Key.Concat("\0");
        }
    }

    public Task<long> Put(string key, byte[] value, long lease = 0, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(value);
        var request = new PutRequest { Key = Key(key), Value = ByteString.CopyFrom(value), Lease = lease };
        return Call($"write '{key}'", false, async (i, o) => (await new KV.KVClient(i).PutAsync(request, o)).Header.Revision, cancel, lease, key);
    }

    public Task<long> Delete(string key, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        var request = new DeleteRangeRequest { Key = Key(key) };
        return Call($"delete '{key}'", false, async (i, o) => (await new KV.KVClient(i).DeleteRangeAsync(request, o)).Header.Revision, cancel);
    }

    public ValueTask DisposeAsync()
    {
        foreach (GrpcChannel c in _channels)
        {
            c.Dispose();
        }

        return ValueTask.CompletedTask;
    }

    private ByteString Key(string key) => _root.Concat(key);

    private StoreEntry Entry(Mvccpb.KeyValue kv) =>
        new(kv.Key.Span[_root.Length..].Utf8(), kv.Value.ToByteArray(), kv.CreateRevision, kv.ModRevision, kv.Version, kv.Lease);

    /// <summary>etcd's range end for "every key starting with": the prefix with its last byte below 0xff incremented.</summary>
    private static ByteString PrefixEnd(ByteString prefix)
    {
        byte[] end = prefix.ToByteArray();
        for (int i = end.Length - 1; i >= 0; i--)
        {
            if (end[i] < 0xff)
            {
                end[i]++;
                return ByteString.CopyFrom(end, 0, i + 1);
            }
        }

        return ByteString.CopyFrom(0); // every key
    }
}

/// <summary>Small conversions between our string keys and etcd's bytes.</summary>
internal static class EtcdBytes
{
    public static ByteString Concat(this ByteString a, string b)
    {
        byte[] tail = System.Text.Encoding.UTF8.GetBytes(b);
        byte[] all = new byte[a.Length + tail.Length];
        a.Span.CopyTo(all);
        tail.CopyTo(all, a.Length);
        return ByteString.CopyFrom(all);
    }

    public static string Utf8(this ReadOnlySpan<byte> bytes) => System.Text.Encoding.UTF8.GetString(bytes);
}
