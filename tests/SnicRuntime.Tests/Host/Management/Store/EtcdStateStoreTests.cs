using SnicRuntime.Management.Store;
using SnicRuntime.TestKit.Store;
using Xunit;

namespace SnicRuntime.Tests.Host.Management.Store;

/// <summary>One real 3-member etcd cluster on loopback for a test class; null with the reason when etcd is not installed.</summary>
public sealed class EtcdClusterFixture : IDisposable
{
    public EtcdClusterFixture()
    {
        Unavailable = EtcdCluster.Unavailable;
        Cluster = Unavailable is null ? new EtcdCluster(3) : null;
    }

    public EtcdCluster? Cluster { get; }

    public string? Unavailable { get; }

    /// <summary>A client of the cluster in a namespace of its own, so each test starts from an empty store.</summary>
    public EtcdStateStore Client(string ns, TimeSpan? timeout = null) =>
        new(StoreAddress.Parse($"etcd://{Cluster!.Endpoints}/{ns}"), timeout: timeout);

    public void Dispose() => Cluster?.Dispose();
}

/// <summary>The store contract on etcd: the same suite as the embedded store, against a real cluster.</summary>
public sealed class EtcdStateStoreTests(EtcdClusterFixture etcd) : StateStoreContract, IClassFixture<EtcdClusterFixture>
{
    private readonly string _namespace = "contract-" + Guid.NewGuid().ToString("N");

    protected override string? Unavailable => etcd.Unavailable;

    protected override IStateStore Open() => etcd.Client(_namespace);

    protected override IStateStore OpenAnotherClient() => etcd.Client(_namespace);
}
