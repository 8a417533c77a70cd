using System.Text;
using SnicRuntime.Contracts.Plans;
using SnicRuntime.Management.Store;
using SnicRuntime.TestKit;
using Xunit;

namespace SnicRuntime.Tests.Host.Management.Fleet;

/// <summary>What a contract suite over the fleet's desired state needs on every backend: a store client, opened unless the backend is unavailable, and example plans as object sets.</summary>
public abstract class FleetStoreContract : IAsyncLifetime
{
    protected IStateStore Store { get; private set; } = null!;

    protected abstract IStateStore Client();

    protected virtual string? Unavailable => null;

    public Task InitializeAsync()
    {
        if (Unavailable is null)
        {
            Store = Client();
        }

        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        if (Store is not null)
        {
            await Store.DisposeAsync();
        }
    }

    protected static ChangePlan Example(string file) => PlanJson.Parse(File.ReadAllText(TestPaths.Plan(file)), out _)!;

    /// <summary>A plan as its stored objects (key=value), to compare plans regardless of order.</summary>
    protected static HashSet<string> Objects(ChangePlan plan) =>
        [.. PlanObjects.Split(plan).Select(o => o.Key + "=" + Encoding.UTF8.GetString(o.Value))];
}
