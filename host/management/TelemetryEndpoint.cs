using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace SnicRuntime.Management;

/// <summary>The management plane's Prometheus endpoint: <c>GET /metrics</c> on a loopback address (configurable).</summary>
public sealed class TelemetryEndpoint : IAsyncDisposable
{
    private readonly WebApplication _app;

    private TelemetryEndpoint(WebApplication app) => _app = app;

    public Uri Address { get; private set; } = null!;

    public static async Task<TelemetryEndpoint> StartAsync(IPEndPoint endpoint, TelemetryCollector collector)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        ArgumentNullException.ThrowIfNull(collector);
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(endpoint));
        WebApplication app = builder.Build();
        app.MapGet("/metrics", (HttpContext ctx) =>
        {
            ctx.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
            return ctx.Response.WriteAsync(collector.RenderPrometheus(), ctx.RequestAborted);
        });
        await app.StartAsync().ConfigureAwait(false);
        return new TelemetryEndpoint(app) { Address = new Uri(app.Urls.First()) };
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }
}
