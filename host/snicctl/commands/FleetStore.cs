using System.CommandLine;
using SnicRuntime.Management.Store;

namespace SnicRuntime.Ctl;

/// <summary>
/// Where the fleet's desired state lives, for every command: <c>--store</c> (a path, sqlite:PATH,
/// or etcd[s]://h1:2379,h2:2379,h3:2379[/namespace]), default the embedded store in the state
/// directory; for etcd over TLS <c>--store-ca/--store-cert/--store-key</c>, and <c>--store-user</c>
/// with the password in $SNIC_STORE_PASSWORD.
/// </summary>
internal static class FleetStore
{
    public static readonly Option<string?> Address = new("--store")
    {
        Description = "the desired-state store: PATH, sqlite:PATH or etcd://HOST:PORT[,HOST:PORT...][/NAMESPACE] (etcds:// for TLS); default: fleet.db in the state directory; $SNIC_STORE too",
        Recursive = true,
    };

    public static readonly Option<string?> Ca = new("--store-ca") { Description = "CA certificate (PEM) that signs the etcd members' certificates", Recursive = true };

    public static readonly Option<string?> Cert = new("--store-cert") { Description = "client certificate (PEM) for etcd's client-cert-auth", Recursive = true };

    public static readonly Option<string?> Key = new("--store-key") { Description = "the client certificate's private key (PEM)", Recursive = true };

    public static readonly Option<string?> User = new("--store-user") { Description = "etcd user (password in $SNIC_STORE_PASSWORD)", Recursive = true };

    public static IEnumerable<Option> All => [Address, Ca, Cert, Key, User];

    /// <summary>The address named on the command line, in $SNIC_STORE, or the embedded default.</summary>
    public static StoreAddress Parse(ParseResult parse) =>
        StoreAddress.Parse(parse.GetValue(Address) ?? Environment.GetEnvironmentVariable("SNIC_STORE") ?? Path.Combine(State.Directory(parse), "fleet.db"));

    /// <summary>Opens the store, or writes why not (naming the store) and returns null with the exit code to use.</summary>
    public static (IStateStore? Store, int Exit) Open(ParseResult parse, string command)
    {
        StoreAddress address;
        try
        {
            address = Parse(parse);
        }
        catch (FormatException e)
        {
            Console.Error.WriteLine($"snicctl {command}: --store: {e.Message}");
            return (null, ExitCodes.Usage);
        }

        try
        {
            EtcdTls? tls = parse.GetValue(Ca) is null && parse.GetValue(Cert) is null ? null : new EtcdTls(parse.GetValue(Ca), parse.GetValue(Cert), parse.GetValue(Key));
            return (StateStores.Open(address, tls, parse.GetValue(User)), ExitCodes.Ok);
        }
        catch (StoreException e)
        {
            Console.Error.WriteLine($"snicctl {command}: {e.Message}");
            return (null, ExitCodes.StoreUnavailable);
        }
    }
}
