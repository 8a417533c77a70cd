namespace SnicRuntime.Management.Store;

/// <summary>
/// Where the desired state lives, as the operator writes it in <c>--store</c>:
/// <list type="bullet">
/// <item>a path, or <c>sqlite:PATH</c>: the embedded store (one host);</item>
/// <item><c>etcd://h1:2379,h2:2379,h3:2379[/namespace]</c>: an etcd v3 cluster over plain HTTP/2;</item>
/// <item><c>etcds://...</c>: the same over TLS (<see cref="EtcdTls"/>), with optional user auth.</item>
/// </list>
/// The namespace is a key prefix, so several fleets (or test runs) share one cluster without seeing
/// each other's keys, as etcd's own <c>clientv3/namespace</c> does.
/// </summary>
public sealed record StoreAddress(string Kind, string? SqlitePath, IReadOnlyList<string> Endpoints, string Namespace, bool Tls)
{
    public const string SqliteKind = "sqlite";
    public const string EtcdKind = "etcd";

    public bool IsEtcd => Kind == EtcdKind;

    /// <summary>What an operator would write to reach this store again (no credentials).</summary>
    public override string ToString() => IsEtcd
        ? $"{(Tls ? "etcds" : "etcd")}://{string.Join(',', Endpoints)}{(Namespace.Length > 0 ? "/" + Namespace.TrimEnd('/') : "")}"
        : $"sqlite:{SqlitePath}";

    /// <summary>Parses <paramref name="text"/>; throws <see cref="FormatException"/> with what is wrong and what is expected.</summary>
    public static StoreAddress Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        text = text.Trim();
        if (text.Length == 0)
        {
            throw new FormatException("empty store address (expected a path, sqlite:PATH, or etcd://HOST:PORT[,HOST:PORT...][/NAMESPACE])");
        }

        bool tls = text.StartsWith("etcds://", StringComparison.OrdinalIgnoreCase);
        if (!tls && !text.StartsWith("etcd://", StringComparison.OrdinalIgnoreCase))
        {
            if (text.Contains("://", StringComparison.Ordinal))
            {
                throw new FormatException($"store '{text}': unknown scheme (known: etcd://, etcds://, sqlite:PATH, or a plain path)");
            }

            string path = text.StartsWith("sqlite:", StringComparison.OrdinalIgnoreCase) ? text["sqlite:".Length..] : text;
            if (path.Length == 0)
            {
                throw new FormatException($"store '{text}': sqlite: needs a file path");
            }

            return new StoreAddress(SqliteKind, path, [], "", false);
        }

        string rest = text[(tls ? "etcds://".Length : "etcd://".Length)..];
        int slash = rest.IndexOf('/', StringComparison.Ordinal);
        string hosts = slash < 0 ? rest : rest[..slash];
        string ns = slash < 0 ? "" : rest[(slash + 1)..].Trim('/');
        var endpoints = new List<string>();
        foreach (string raw in hosts.Split(',', StringSplitOptions.TrimEntries))
        {
            int colon = raw.LastIndexOf(':');
            if (raw.Length == 0 || colon <= 0 || !ushort.TryParse(raw[(colon + 1)..], out ushort port) || port == 0)
            {
                throw new FormatException($"store '{text}': endpoint '{raw}' is not HOST:PORT");
            }

            endpoints.Add(raw);
        }

        if (ns.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
        {
            throw new FormatException($"store '{text}': the namespace '{ns}' has a space or control character");
        }

        return new StoreAddress(EtcdKind, null, endpoints, ns.Length == 0 ? "" : ns + "/", tls);
    }
}

/// <summary>
/// How to reach an etcd cluster that checks who calls: a CA to trust (else the system's), a client
/// certificate and key (etcd's <c>--client-cert-auth</c>), and a user for etcd's own auth (the
/// password comes from the environment, never the command line, so it is not in ps or shell history).
/// </summary>
public sealed record EtcdTls(string? CaFile = null, string? CertFile = null, string? KeyFile = null);

/// <summary>Opens the store an address names.</summary>
public static class StateStores
{
    /// <summary>The environment variable that holds the etcd user's password.</summary>
    public const string PasswordVariable = "SNIC_STORE_PASSWORD";

    public static IStateStore Open(StoreAddress address, EtcdTls? tls = null, string? user = null, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (!address.IsEtcd)
        {
            return new SqliteStateStore(address.SqlitePath!);
        }

        string? password = user is null ? null : Environment.GetEnvironmentVariable(PasswordVariable)
            ?? throw new StoreException($"store {address}: user '{user}' needs a password in ${PasswordVariable}");
        return new EtcdStateStore(address, tls, user, password, timeout);
    }
}
