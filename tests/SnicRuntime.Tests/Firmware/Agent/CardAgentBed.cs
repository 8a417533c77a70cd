using System.Net;
using System.Net.Http.Headers;
using SnicRuntime.Firmware.Agent;
using SnicRuntime.Firmware.Card;
using SnicRuntime.Firmware.Pipeline;
using SnicRuntime.Hal.Board;
using SnicRuntime.TestKit;

namespace SnicRuntime.Tests.Firmware.Agent;

/// <summary>A card agent over real HTTP on loopback: the emulated board's dataplane with a policy store, and a client holding the agent's token.</summary>
internal sealed class CardAgentBed : IAsyncDisposable
{
    private CardAgentBed(Dataplane dataplane, PolicyStore store, CardAgent agent, HttpClient http)
    {
        Dataplane = dataplane;
        Store = store;
        Agent = agent;
        Http = http;
    }

    public Dataplane Dataplane { get; }

    public PolicyStore Store { get; }

    public CardAgent Agent { get; }

    public HttpClient Http { get; }

    /// <summary>Starts the agent after <paramref name="install"/> has put the card's first plan in its store.</summary>
    public static async Task<CardAgentBed> Start(string token, Action<PolicyStore> install, int flowsPerWorker = 1024, long maxBodyBytes = CardAgent.MaxPlanBytes)
    {
        BoardDefinition board = BoardLoader.Load(Path.Combine(TestPaths.BoardsDirectory, "emulated", "emulated.json"));
        var store = new PolicyStore(board.Ports.Count);
        install(store);
        Dataplane dp = Dataplane.Create(board, new DataplaneOptions { Stage = StageKind.Policy, Policy = store, FlowsPerWorker = flowsPerWorker });
        CardAgent agent = await CardAgent.StartAsync(dp, store, token, new IPEndPoint(IPAddress.Loopback, 0), maxBodyBytes: maxBodyBytes);
        var http = new HttpClient { BaseAddress = agent.Address };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return new CardAgentBed(dp, store, agent, http);
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await Agent.DisposeAsync();
        Dataplane.Dispose();
    }
}
