using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using SnicRuntime.Contracts.Plans;

namespace SnicRuntime.Bench;

/// <summary>
/// Thousands of card endpoints in one process for the fleet simulation: one Kestrel server with a
/// loopback port per card, each answering the two calls delivery makes — <c>GET /v1/plan</c>
/// (generation, digest, installs) and <c>PUT /v1/plan</c> (parse, digest, install) — as the card
/// agent does, without a dataplane behind it. The controller and store are the real ones; only
/// the cards are stand-ins, so what grows with the card count is what the control plane costs.
/// </summary>
internal sealed class SimulatedCards : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<int, Running> _byPort = new();

    /// <summary>What one simulated card runs.</summary>
    public sealed class Running
    {
        public long Generation;
        public string Digest = "";
        public long Installs;
    }

    public List<Uri> Addresses { get; } = [];

    public List<Running> Cards { get; } = [];

    private SimulatedCards(WebApplication app) => _app = app;

    public static async Task<SimulatedCards> Start(int count)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            for (int i = 0; i < count; i++)
            {
                k.Listen(IPAddress.Loopback, 0);
            }
        });
        WebApplication app = builder.Build();
        var cards = new SimulatedCards(app);
        app.MapGet("/v1/plan", (HttpContext http) =>
        {
            Running r = cards._byPort[http.Connection.LocalPort];
            return Results.Text($"{{\"generation\":{Volatile.Read(ref r.Generation)},\"digest\":\"{r.Digest}\",\"installs\":{Volatile.Read(ref r.Installs)}}}", "application/json");
        });
        app.MapPut("/v1/plan", async (HttpContext http) =>
        {
            Running r = cards._byPort[http.Connection.LocalPort];
            using var body = new MemoryStream();
            await http.Request.Body.CopyToAsync(body);
            ChangePlan? plan = PlanJson.Parse(body.ToArray(), out PlanError? error);
            if (plan is null)
            {
                return Results.Json(new { errors = new[] { new { path = error!.Value.Path, reason = error.Value.Reason } } }, statusCode: 422);
            }

            lock (r)
            {
                r.Digest = PlanDigest.Of(plan);
                Volatile.Write(ref r.Generation, plan.Generation ?? 0);
                Interlocked.Increment(ref r.Installs);
            }

            return Results.Text($"{{\"generation\":{plan.Generation}}}", "application/json");
        });
        await app.StartAsync();
        foreach (string address in app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses)
        {
            var uri = new Uri(address.EndsWith('/') ? address : address + "/");
            var running = new Running();
            cards._byPort[uri.Port] = running;
            cards.Addresses.Add(uri);
            cards.Cards.Add(running);
        }

        return cards;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
