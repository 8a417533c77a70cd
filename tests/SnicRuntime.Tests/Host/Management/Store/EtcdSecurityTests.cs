using System.Text;
using SnicRuntime.Management.Store;
using SnicRuntime.TestKit.Store;
using Xunit;

namespace SnicRuntime.Tests.Host.Management.Store;

/// <summary>A one-member etcd that checks who calls: TLS with client certificates of its own authority, and etcd's user auth on.</summary>
public sealed class SecureEtcdFixture : IDisposable
{
    public SecureEtcdFixture()
    {
        Unavailable = EtcdCluster.Unavailable;
        if (Unavailable is not null)
        {
            return;
        }

        Dir = Directory.CreateTempSubdirectory("snic-etcd-pki-").FullName;
        Pki = EtcdPki.Create(Path.Combine(Dir, "pki"));
        Stranger = EtcdPki.Create(Path.Combine(Dir, "stranger"), "another-ca");
        Cluster = new EtcdCluster(1, Pki);
        // A fleet user with read and write on the fleet's keys, and one that may only read them.
        Cluster.Ctl("user add fleet --new-user-password=fleet-password-1");
        Cluster.Ctl("role add fleet-rw");
        Cluster.Ctl("role grant-permission fleet-rw --prefix=true readwrite fleet/");
        Cluster.Ctl("user grant-role fleet fleet-rw");
        Cluster.Ctl("user add viewer --new-user-password=viewer-password-2");
        Cluster.Ctl("role add fleet-ro");
        Cluster.Ctl("role grant-permission fleet-ro --prefix=true read fleet/");
        Cluster.Ctl("user grant-role viewer fleet-ro");
        (ClientCert, ClientKey) = Pki.Client("snic-controller");
        (StrangerCert, StrangerKey) = Stranger.Client("snic-controller");
    }

    public string? Unavailable { get; }

    public string Dir { get; } = "";

    public EtcdPki Pki { get; } = null!;

    public EtcdPki Stranger { get; } = null!;

    public EtcdCluster Cluster { get; } = null!;

    public string ClientCert { get; } = "";

    public string ClientKey { get; } = "";

    public string StrangerCert { get; } = "";

    public string StrangerKey { get; } = "";

    public string Address => $"etcds://{Cluster.Endpoints}/fleet";

    public void Dispose()
    {
        Cluster?.Dispose();
        if (Dir.Length > 0)
        {
            Directory.Delete(Dir, recursive: true);
        }
    }
}

/// <summary>
/// The store over TLS with etcd's auth, as a production fleet runs it: the right certificate and
/// user work end to end (writes, reads, watches, leases); an unknown certificate either way, a wrong
/// password, a plain client, or a user without write permission is refused with an error that names
/// the cause, and writes nothing.
/// </summary>
public sealed class EtcdSecurityTests(SecureEtcdFixture etcd) : IClassFixture<SecureEtcdFixture>
{
    private EtcdStateStore Open(string user, string password, EtcdTls tls, string? address = null) =>
        new(StoreAddress.Parse(address ?? etcd.Address), tls, user, password, TimeSpan.FromSeconds(3));

    private EtcdTls Ours => new(etcd.Pki.CaFile, etcd.ClientCert, etcd.ClientKey);

    [SkippableFact]
    public async Task The_right_certificate_and_user_write_read_watch_and_hold_leases()
    {
        Skip.If(etcd.Unavailable is not null, etcd.Unavailable);
        await using EtcdStateStore store = Open("fleet", "fleet-password-1", Ours);
        long rev = await store.Put("/sets/s1", "one"u8.ToArray());
        Assert.Equal("one", Encoding.UTF8.GetString((await store.Get("/sets/s1"))!.Value));
        long lease = await store.GrantLease(TimeSpan.FromSeconds(5));
        await store.Put("/controllers/members/a", "a"u8.ToArray(), lease);
        await store.KeepAlive(lease);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await foreach (WatchEvent e in store.Watch("/sets/", rev, stop.Token))
        {
            Assert.Equal("/sets/s1", e.Entry.Key);
            break;
        }

        await store.Revoke(lease);
        Assert.Null(await store.Get("/controllers/members/a"));
        // etcdctl, not our client, sees the key where the namespace puts it.
        Assert.Contains("one", etcd.Cluster.Ctl("get --prefix fleet/"), StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task A_wrong_password_is_refused_by_name()
    {
        Skip.If(etcd.Unavailable is not null, etcd.Unavailable);
        await using EtcdStateStore store = Open("fleet", "not-the-password", Ours);
        var e = await Assert.ThrowsAsync<StoreException>(() => store.Put("/sets/x", "x"u8.ToArray()));
        Assert.Contains("authentication failed", e.Message, StringComparison.Ordinal);
        Assert.Contains("log in", e.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task A_user_allowed_only_to_read_cannot_write_and_is_told_so()
    {
        Skip.If(etcd.Unavailable is not null, etcd.Unavailable);
        await using EtcdStateStore viewer = Open("viewer", "viewer-password-2", Ours);
        var e = await Assert.ThrowsAsync<StoreException>(() => viewer.Put("/sets/by-viewer", "v"u8.ToArray()));
        Assert.Contains("permission denied", e.Message, StringComparison.Ordinal);
        Assert.Contains("write '/sets/by-viewer'", e.Message, StringComparison.Ordinal);
        await using EtcdStateStore fleet = Open("fleet", "fleet-password-1", Ours);
        Assert.Null(await fleet.Get("/sets/by-viewer"));
        Assert.Empty((await viewer.Range("/nothing-here/")).Entries); // reading is allowed
    }

    [SkippableTheory]
    [InlineData("our client certificate signed by another authority")]
    [InlineData("a member certificate signed by an authority we do not trust")]
    public async Task An_unknown_certificate_either_way_is_refused_as_a_TLS_failure(string which)
    {
        Skip.If(etcd.Unavailable is not null, etcd.Unavailable);
        EtcdTls tls = which.StartsWith("our", StringComparison.Ordinal)
            ? new EtcdTls(etcd.Pki.CaFile, etcd.StrangerCert, etcd.StrangerKey)
            : new EtcdTls(etcd.Stranger.CaFile, etcd.ClientCert, etcd.ClientKey);
        await using EtcdStateStore store = Open("fleet", "fleet-password-1", tls);
        var e = await Assert.ThrowsAsync<StoreException>(() => store.Get("/sets/s1"));
        Assert.True(e.Message.Contains("TLS handshake failed", StringComparison.Ordinal), e.ToString());
        Assert.Contains("--store-cert", e.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task A_plain_client_of_a_TLS_cluster_gets_an_error_not_a_hang()
    {
        Skip.If(etcd.Unavailable is not null, etcd.Unavailable);
        await using EtcdStateStore store = Open("fleet", "fleet-password-1", Ours, etcd.Address.Replace("etcds://", "etcd://", StringComparison.Ordinal));
        var started = System.Diagnostics.Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<StoreException>(() => store.Get("/sets/s1"));
        Assert.StartsWith($"etcd {etcd.Cluster.Endpoints}", e.Message, StringComparison.Ordinal);
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(10), $"took {started.Elapsed}");
    }

    [SkippableFact]
    public void Snicctl_reaches_the_secured_store_with_its_options_and_names_a_refused_certificate()
    {
        Skip.If(etcd.Unavailable is not null, etcd.Unavailable);
        string state = Directory.CreateTempSubdirectory("snicctl-secure-").FullName;
        try
        {
            var password = new Dictionary<string, string> { [StateStores.PasswordVariable] = "fleet-password-1" };
            string[] common = ["--store", etcd.Address + "/cli", "--store-ca", etcd.Pki.CaFile, "--store-user", "fleet", "--state", state];
            var ok = Snicctl.SnicctlProcess.RunWith(password, ["sets", "list", .. common, "--store-cert", etcd.ClientCert, "--store-key", etcd.ClientKey]);
            Assert.True(ok.Code == 0, ok.Err);

            var refused = Snicctl.SnicctlProcess.RunWith(password, ["sets", "list", .. common, "--store-cert", etcd.StrangerCert, "--store-key", etcd.StrangerKey]);
            Assert.Equal(5, refused.Code);
            Assert.Contains("TLS handshake failed", refused.Err, StringComparison.Ordinal);
            Assert.DoesNotContain("   at ", refused.Err, StringComparison.Ordinal);

            var noPassword = Snicctl.SnicctlProcess.RunWith(new Dictionary<string, string>(), ["sets", "list", .. common, "--store-cert", etcd.ClientCert, "--store-key", etcd.ClientKey]);
            Assert.Equal(5, noPassword.Code);
            Assert.Contains($"needs a password in ${StateStores.PasswordVariable}", noPassword.Err, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(state, recursive: true);
        }
    }
}
