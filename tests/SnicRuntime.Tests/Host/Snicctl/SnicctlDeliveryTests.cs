using SnicRuntime.Firmware.Card;
using SnicRuntime.TestKit;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using SnicRuntime.Firmware.Agent;
using SnicRuntime.Firmware.Pipeline;
using SnicRuntime.Firmware.Workers;
using SnicRuntime.Hal.Board;
using Xunit;

namespace SnicRuntime.Tests.Host.Snicctl;

/// <summary>
/// Durable delivery as a user lives it: <c>snicctl apply</c> killed with SIGKILL while a card
/// hangs, then <c>snicctl serve</c> (the long-running reconciler) brings every card to the
/// journaled generation — nothing lost, nothing applied twice — and brings back a card that
/// restarts empty, with nobody asking.
/// </summary>
[Collection("processes")]
public sealed class SnicctlDeliveryTests : IAsyncLifetime
{
    private const string Token = "snicctl-delivery-token-0123";
    private readonly string _dir = Directory.CreateTempSubdirectory("snicctl-delivery-").FullName;
    private readonly List<(Dataplane Dp, PolicyStore Store, CardAgent Agent)> _cards = [];

    public Task InitializeAsync()
    {
        File.WriteAllText(Path.Combine(_dir, "token"), Token + "\n");
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        foreach (var c in _cards)
        {
            await c.Agent.DisposeAsync();
            c.Dp.Dispose();
        }

        Directory.Delete(_dir, recursive: true);
    }

    private static async Task<(Dataplane Dp, PolicyStore Store, CardAgent Agent)> StartCard(int port)
    {
        BoardDefinition board = BoardLoader.Load(Path.Combine(TestPaths.BoardsDirectory, "emulated", "emulated.json"));
        var store = new PolicyStore(board.Ports.Count);
        Dataplane dp = Dataplane.Create(board, new DataplaneOptions { Stage = StageKind.Policy, Policy = store, FlowsPerWorker = 1024 });
        return (dp, store, await CardAgent.StartAsync(dp, store, Token, new IPEndPoint(IPAddress.Loopback, port)));
    }

    private string[] Args(params string[] args) => [.. args, "--state", Path.Combine(_dir, "state")];

    private static async Task Until(Func<bool> done, TimeSpan timeout, string what, ConcurrentQueue<string>? log = null)
    {
        var clock = Stopwatch.StartNew();
        while (!done())
        {
            Assert.True(clock.Elapsed < timeout, $"{what} within {timeout.TotalSeconds} s; log:\n{string.Join('\n', log ?? [])}");
            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task Apply_killed_mid_delivery_then_serve_converges_every_card_once_and_restores_a_restarted_card()
    {
        _cards.Add(await StartCard(0));
        Uri card0 = _cards[0].Agent.Address;
        // "hung" accepts connections and never answers: apply is still waiting on it when killed.
        var hung = new TcpListener(IPAddress.Loopback, 0);
        hung.Start();
        int hungPort = ((IPEndPoint)hung.LocalEndpoint).Port;
        string token = Path.Combine(_dir, "token");
        Assert.Equal(0, SnicctlProcess.Run(Args("cards", "add", "card0", "--address", card0.ToString(), "--token-file", token)).Code);
        Assert.Equal(0, SnicctlProcess.Run(Args("cards", "add", "hung", "--address", $"http://127.0.0.1:{hungPort}/", "--token-file", token)).Code);

        var applyLog = new ConcurrentQueue<string>();
        using (Process apply = SnicctlProcess.Start(applyLog, Args("apply", SnicctlProcess.Plan("full.json"))))
        {
            await Until(() => _cards[0].Store.Current?.Generation == 1, TimeSpan.FromSeconds(30), "card0 takes generation 1", applyLog);
            await Task.Delay(300); // apply is now blocked on "hung" (cards are delivered in name order)
            Assert.False(apply.HasExited, string.Join('\n', applyLog));
            apply.Kill(); // SIGKILL: no cleanup, mid-delivery
            Assert.True(apply.WaitForExit(10_000));
        }

        // The journal survived: one generation, card0's answer recorded or not, hung's not acked.
        JsonElement plans = JsonDocument.Parse(SnicctlProcess.Run(Args("plans", "list", "--json")).Out).RootElement;
        Assert.Equal(1, plans.GetArrayLength());
        Assert.Equal(1, plans[0].GetProperty("generation").GetInt64());

        // "hung" comes back as a real card on the same address; the service converges both.
        hung.Stop();
        _cards.Add(await StartCard(hungPort));
        var serveLog = new ConcurrentQueue<string>();
        using Process serve = SnicctlProcess.Start(serveLog, Args("serve", "--listen", "127.0.0.1:0", "--interval-ms", "200", "--seconds", "90"));
        try
        {
            await Until(() => _cards[1].Store.Current?.Generation == 1, TimeSpan.FromSeconds(30), "the restarted card reaches generation 1", serveLog);
            Assert.Equal(1, _cards[0].Store.Installed); // card0 got the plan exactly once (a re-send would be a no-op anyway)
            Assert.Equal(1, _cards[1].Store.Installed);

            // card0 restarts with nothing on the same address; serve notices and re-delivers.
            await _cards[0].Agent.DisposeAsync();
            _cards[0].Dp.Dispose();
            _cards[0] = await StartCard(card0.Port);
            await Until(() => _cards[0].Store.Current?.Generation == 1, TimeSpan.FromSeconds(30), "the empty card0 is brought back to generation 1", serveLog);
            await Until(() => serveLog.Any(l => l.Contains("card 'card0' generation 1: acked", StringComparison.Ordinal)), TimeSpan.FromSeconds(10), "serve reports card0", serveLog);
        }
        finally
        {
            serve.Kill();
            serve.WaitForExit(10_000);
        }

        Assert.Contains(serveLog, l => l.Contains("card 'hung' generation 1: acked", StringComparison.Ordinal));
        JsonElement cards = JsonDocument.Parse(SnicctlProcess.Run(Args("cards", "list", "--json")).Out).RootElement;
        Assert.All(cards.EnumerateArray(), c => Assert.Equal(1, c.GetProperty("acked_generation").GetInt64()));
        Assert.Equal(1, JsonDocument.Parse(SnicctlProcess.Run(Args("plans", "list", "--json")).Out).RootElement.GetArrayLength());
    }
}
