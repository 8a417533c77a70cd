using SnicRuntime.Management.Store;

namespace SnicRuntime.Tests.Host.Management.Store;

/// <summary>The store contract on the embedded SQLite backend; the second client is a second connection to the same file, as a second process has.</summary>
public sealed class SqliteStateStoreTests : StateStoreContract, IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("snic-store-").FullName;

    private string File => Path.Combine(_dir, "state.db");

    protected override IStateStore Open() => new SqliteStateStore(File);

    protected override IStateStore OpenAnotherClient() => new SqliteStateStore(File);

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
