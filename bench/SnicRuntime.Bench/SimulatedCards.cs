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
/// Thousands of card endpoints in one process for the fleet simulation: one Kestrel server, each
/// card answering the two calls delivery makes — <c>GET /v1/plan</c> (generation, digest,
/// installs) and <c>PUT /v1/plan</c> (parse, digest, install) — as the card agent does, without a
/// dataplane behind it. The controller and store are the real ones; only the cards are stand-ins,
/// so what grows with the card count is what the control plane costs.
///
/// A card is told apart by its bearer token (cards share loopback ports, <see cref="CardsPerPort"/>
/// each): one process holds both ends of every connection, and 10,000 listeners plus 20,000
/// connection ends would pass this machine's limit of 20,000 open files. For the same reason an
/// idle connection is closed after <see cref="KeepAlive"/> (the controller keeps one per card).
/// </summary>
internal sealed class SimulatedCards : IAsyncDisposable
{
    private const int CardsPerPort = 250;
    private const string TokenPrefix = "Bearer sim-card-";
    private static readonly TimeSpan KeepAlive = TimeSpan.FromSeconds(2);
    private readonly WebApplication _app;

    /// <summary>What one simulated card runs.</summary>
    public sealed class Running
    {
        public long Generation;
        public string Digest = "";
        public long Installs;
    }

    public List<Uri> Addresses { get; } = [];

    public List<string> Tokens { get; } = [];

    public List<Running> Cards { get; } = [];

    private SimulatedCards(WebApplication app) => _app = app;

    public static async Task<SimulatedCards> Start(int count)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.KeepAliveTimeout = KeepAlive;
            k.Limits.MaxConcurrentConnections = null;
            for (int i = 0; i < (count + CardsPerPort - 1) / CardsPerPort; i++)
            {
                k.Listen(IPAddress.Loopback, 0);
            }
        });
        WebApplication app = builder.Build();
        var cards = new SimulatedCards(app);
        for (int i = 0; i < count; i++)
        {
            cards.Cards.Add(new Running());
            cards.Tokens.Add($"sim-card-{i}");
        }

        Running? Card(HttpContext http) =>
            http.Request.Headers.Authorization.ToString() is string auth && auth.StartsWith(TokenPrefix, StringComparison.Ordinal)
            && int.TryParse(auth.AsSpan(TokenPrefix.Length), out int i) && i >= 0 && i < count ? cards.Cards[i] : null;
        app.MapGet("/v1/plan", (HttpContext http) =>
        {
            if (Card(http) is not Running r)
            {
                return Results.Json(new { error = "unknown card token" }, statusCode: 401);
            }

            return Results.Text($"{{\"generation\":{Volatile.Read(ref r.Generation)},\"digest\":\"{r.Digest}\",\"installs\":{Volatile.Read(ref r.Installs)}}}", "application/json");
        });
        app.MapPut("/v1/plan", async (HttpContext http) =>
        {
            if (Card(http) is not Running r)
            {
                return Results.Json(new { error = "unknown card token" }, statusCode: 401);
            }

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
        List<Uri> ports = [.. app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses
            .Select(a => new Uri(a.EndsWith('/') ? a : a + "/"))];
        for (int i = 0; i < count; i++)
        {
            cards.Addresses.Add(ports[i / CardsPerPort]);
        }

        return cards;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
