using SnicRuntime.Contracts.Agent;
using SnicRuntime.Firmware.Card;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.Logging;
using SnicRuntime.Firmware.Pipeline;
using SnicRuntime.Firmware.Workers;

namespace SnicRuntime.Firmware.Agent;

/// <summary>
/// The card agent: the card's management API, in the firmware process but off the hot path
/// (Kestrel threads; it reads counters and copies flows without stopping a worker). HTTP/JSON on
/// loopback unless told otherwise. Every request carries the card's bearer token, compared in
/// constant time; a wrong or missing one is refused (401) and counted.
/// </summary>
/// <remarks>
/// Handlers are plain <see cref="RequestDelegate"/>s writing source-generated JSON, so NativeAOT
/// needs no reflection and no request-delegate generator. Mutual TLS with enrollment certificates
/// (the management-plane issue's target) replaces the token in a later step.
/// </remarks>
public sealed partial class CardAgent : IAsyncDisposable
{
    /// <summary>Largest plan body accepted (a 1M-mapping plan is ~100 MB of JSON).</summary>
    public const long MaxPlanBytes = SnicRuntime.Contracts.Plans.PlanJson.MaxBytes;

    private readonly WebApplication _app;
    private readonly Dataplane _dataplane;
    private readonly PolicyStore _policy;
    private readonly byte[]? _token;
    private readonly AgentTls? _tls;
    private readonly Telemetry.FirmwareMetrics _metrics;
    private readonly long _started = Stopwatch.GetTimestamp();
    private long _authFailures;

    private CardAgent(WebApplication app, Dataplane dataplane, PolicyStore policy, byte[]? token, AgentTls? tls, Ha.HaHost? ha)
    {
        _ha = ha;
        _app = app;
        _dataplane = dataplane;
        _policy = policy;
        _token = token;
        _tls = tls;
        _metrics = new Telemetry.FirmwareMetrics(dataplane, policy);
    }

    /// <summary>Requests refused for a missing or wrong token.</summary>
    public long AuthFailures => Interlocked.Read(ref _authFailures);

    /// <summary>The address the agent listens on (resolved when the port was 0).</summary>
    public Uri Address { get; private set; } = null!;

    /// <summary>Starts listening on <paramref name="endpoint"/> (port 0 = any free port).</summary>
    /// <param name="token">Bearer token callers must present (token mode; null with <paramref name="tls"/>).</param>
    /// <param name="tls">Mutual TLS: callers must present a certificate issued by the management plane's authority.</param>
    public static async Task<CardAgent> StartAsync(Dataplane dataplane, PolicyStore policy, string? token, IPEndPoint endpoint, ILoggerFactory? logs = null,
        long maxBodyBytes = MaxPlanBytes, AgentTls? tls = null, Ha.HaHost? ha = null, FirmwareUpdates? firmware = null)
    {
        ArgumentNullException.ThrowIfNull(dataplane);
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(endpoint);
        if (tls is null && (string.IsNullOrEmpty(token) || token.Length < 16))
        {
            throw new ArgumentException("the agent token must be at least 16 characters", nameof(token));
        }

        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        if (logs is not null)
        {
            builder.Logging.AddProvider(new ForwardingLoggerProvider(logs));
            builder.Logging.AddFilter("Microsoft", LogLevel.Warning); // not a line per request in the card's log
        }

        CardAgent? agent = null;
        if (tls is not null)
        {
            builder.WebHost.UseKestrelHttpsConfiguration(); // the slim builder leaves TLS out
        }

        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(endpoint, listen =>
            {
                if (tls is not null)
                {
                    listen.UseHttps(new HttpsConnectionAdapterOptions
                    {
                        ServerCertificate = tls.Server,
                        // Allow (not Require) so a caller without a certificate gets a clear 401
                        // from the middleware; a certificate that does not chain to the authority
                        // fails the handshake and is counted here.
                        ClientCertificateMode = ClientCertificateMode.AllowCertificate,
                        ClientCertificateValidation = (certificate, _, _) =>
                        {
                            bool ok = AgentCertificates.ChainsTo(certificate, tls.Authority);
                            if (!ok && agent is not null)
                            {
                                Interlocked.Increment(ref agent._authFailures);
                            }

                            return ok;
                        },
                    });
                }
            });
            k.Limits.MaxRequestBodySize = maxBodyBytes;
            k.AddServerHeader = false;
        });
        WebApplication app = builder.Build();
        agent = new CardAgent(app, dataplane, policy, token is null ? null : Encoding.UTF8.GetBytes(token), tls, ha);
        app.Use(agent.Authenticate);
        app.MapGet("/v1/health", agent.Health);
        app.MapGet("/v1/identity", agent.Identity);
        app.MapGet("/v1/plan", agent.Generation);
        app.MapPut("/v1/plan", agent.Apply);
        app.MapPatch("/v1/plan", agent.ApplyDelta);
        app.MapGet("/v1/counters", agent.Counters);
        app.MapGet("/v1/flows", agent.Flows);
        app.MapGet("/v1/metrics", agent.Metrics);
        agent.MapHa(app);
        agent.MapFirmware(app, firmware);
        await app.StartAsync().ConfigureAwait(false);
        agent.Address = new Uri(app.Urls.First());
        return agent;
    }

    private async Task Authenticate(HttpContext ctx, Func<Task> next)
    {
        if (_tls is not null)
        {
            // The handshake already checked any certificate offered; here: was one offered?
            if (ctx.Connection.ClientCertificate is null)
            {
                Interlocked.Increment(ref _authFailures);
                await Problem(ctx, StatusCodes.Status401Unauthorized, "missing client certificate (mutual TLS: present the one issued at enrollment)").ConfigureAwait(false);
                return;
            }

            await next().ConfigureAwait(false);
            return;
        }

        string header = ctx.Request.Headers.Authorization.ToString();
        const string scheme = "Bearer ";
        bool ok = header.StartsWith(scheme, StringComparison.Ordinal)
            && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(header[scheme.Length..]), _token!);
        if (!ok)
        {
            Interlocked.Increment(ref _authFailures);
            ctx.Response.Headers.WWWAuthenticate = "Bearer";
            await Problem(ctx, StatusCodes.Status401Unauthorized, header.Length == 0 ? "missing credentials (Authorization: Bearer <card token>)" : "wrong credentials").ConfigureAwait(false);
            return;
        }

        await next().ConfigureAwait(false);
    }

    private double Uptime => Stopwatch.GetElapsedTime(_started).TotalSeconds;

    private Task Health(HttpContext ctx) =>
        Write(ctx, 200, new HealthReply("ok", _policy.Current?.Generation ?? 0, Uptime), AgentJsonContext.Default.HealthReply);

    private Task Identity(HttpContext ctx) =>
        Write(ctx, 200, new IdentityReply(_dataplane.Board.Id, _dataplane.Board.Model, FirmwareIdentity.Version, FirmwareIdentity.ImageSha256,
            Uptime, _dataplane.Workers.Count, _dataplane.Ports.Count), AgentJsonContext.Default.IdentityReply);

    private Task Generation(HttpContext ctx) =>
        Write(ctx, 200, new GenerationReply(_policy.Current?.Generation ?? 0,
            _policy.Current is { } running ? SnicRuntime.Contracts.Plans.PlanDigest.Of(running.Source) : "", _policy.Installed, Interlocked.Read(ref _deltas)), AgentJsonContext.Default.GenerationReply);

    private async Task Apply(HttpContext ctx)
    {
        if (await PlanBody(ctx).ConfigureAwait(false) is not byte[] body)
        {
            return;
        }

        SnicRuntime.Contracts.Plans.ChangePlan? plan = SnicRuntime.Contracts.Plans.PlanJson.Parse(body, out SnicRuntime.Contracts.Plans.PlanError? parseError);
        ApplyResult result = plan is null
            ? new ApplyResult(false, _policy.Current?.Generation ?? 0, [parseError!.Value])
            : _policy.Apply(plan);
        var reply = new ApplyReply(result.Accepted, result.Generation, result.Unchanged,
            result.Errors.Select(e => new ErrorItem(e.Path, e.Reason)).ToList());
        await Write(ctx, result.Accepted ? 200 : 422, reply, AgentJsonContext.Default.ApplyReply).ConfigureAwait(false);
    }

    /// <summary>The request body of a plan or a delta; null when it was too large (and the 413 is written).</summary>
    private static async Task<byte[]?> PlanBody(HttpContext ctx)
    {
        try
        {
            using var buffer = new MemoryStream();
            await ctx.Request.Body.CopyToAsync(buffer, ctx.RequestAborted).ConfigureAwait(false);
            return buffer.ToArray();
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            await Problem(ctx, 413, $"plan larger than the {ctx.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>()?.MaxRequestBodySize} bytes this card accepts").ConfigureAwait(false);
            return null;
        }
    }

    private Task Counters(HttpContext ctx)
    {
        FlowSummary flows = _dataplane.FlowTotals();
        var workers = _dataplane.Workers.Select(w =>
        {
            WorkerSnapshot s = w.Counters.Snapshot();
            return new WorkerReply(w.Id, s.RxPackets, s.RxBytes, s.TxPackets, s.TxBytes, s.Drops, w.Counters.BusyNanoseconds,
                w.Counters.LatencySumNanoseconds, w.Counters.LatencySnapshot());
        }).ToList();
        // Loops, not LINQ, over value types: see FirmwareMetrics (image size).
        var ports = new List<PortReply>();
        foreach (Hal.IPort p in _dataplane.Ports)
        {
            Hal.PortCounters pc = p.ReadCounters();
            var depths = new int[p.QueueCount];
            for (int q = 0; q < depths.Length; q++)
            {
                depths[q] = p.RxQueueDepth(q);
            }

            ports.Add(new PortReply(p.Id, p.Name, p.LinkUp, pc.RxPackets, pc.TxPackets, pc.RxRingFullDrops, depths));
        }

        var drops = _dataplane.DropsByReason().ToDictionary(x => x.Key.ToString(), x => x.Value);
        // JSON has no infinity: the last (unbounded) bucket's bound is sent as -1.
        var bounds = new double[BurstLatency.BucketCount];
        for (int i = 0; i < bounds.Length; i++)
        {
            double b = BurstLatency.UpperBoundNs(i);
            bounds[i] = double.IsPositiveInfinity(b) ? -1 : b;
        }
        return Write(ctx, 200, new CountersReply(_policy.Current?.Generation ?? 0, workers, drops, flows.Active, flows.Capacity, flows.Created,
            flows.Aged, AuthFailures, _policy.Installed, ports, FirmwareIdentity.CpuMhz, bounds, _ha?.Node?.Sync.Lag ?? -1, _ha?.Node?.PeerUp),
            AgentJsonContext.Default.CountersReply);
    }

    private Task Flows(HttpContext ctx)
    {
        IQueryCollection q = ctx.Request.Query;
        if (!TryNumber(q, "limit", 100, 1, FlowDump.MaxLimit, out long limit, out string? why)
            || !TryNumber(q, "port", -1, 0, ushort.MaxValue, out long port, out why)
            || !TryNumber(q, "protocol", -1, 0, 255, out long protocol, out why))
        {
            return Problem(ctx, 400, why!);
        }

        var filter = new FlowFilter(
            Eni: q.TryGetValue("eni", out var eni) ? eni.ToString() : null,
            Address: q.TryGetValue("address", out var address) ? address.ToString() : null,
            Port: port < 0 ? null : (ushort)port,
            Protocol: protocol < 0 ? null : (byte)protocol);
        FlowPage page;
        try
        {
            page = FlowDump.Read(_dataplane.Pipelines, _policy.Current, filter, q.TryGetValue("cursor", out var c) ? c.ToString() : null, (int)limit);
        }
        catch (ArgumentException e)
        {
            return Problem(ctx, 400, e.Message);
        }

        var flows = page.Flows.Select(f => new FlowReply(f.Worker, f.Eni, f.Protocol, f.AddressA, f.PortA, f.AddressB, f.PortB, f.OpenedByA,
            f.Tcp.ToString(), f.Packets, f.Bytes, f.IdleMs, f.Generation, f.Action)).ToList();
        return Write(ctx, 200, new FlowPageReply(flows, page.Next), AgentJsonContext.Default.FlowPageReply);
    }

    /// <summary>The card's instruments in Prometheus text (for the management plane's collector).</summary>
    private async Task Metrics(HttpContext ctx)
    {
        ctx.Response.ContentType = Telemetry.PrometheusText.ContentType;
        await ctx.Response.WriteAsync(Telemetry.PrometheusText.Render(_metrics.Meter), ctx.RequestAborted).ConfigureAwait(false);
    }

    private static bool TryNumber(IQueryCollection q, string name, long fallback, long min, long max, out long value, out string? why)
    {
        why = null;
        value = fallback;
        if (!q.TryGetValue(name, out var text))
        {
            return true;
        }

        if (!long.TryParse(text.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out value) || value < min || value > max)
        {
            why = $"query parameter '{name}': '{text}' is not a whole number in {min}..{max}";
            return false;
        }

        return true;
    }

    private static Task Problem(HttpContext ctx, int status, string error) =>
        Write(ctx, status, new ProblemReply(status, error), AgentJsonContext.Default.ProblemReply);

    private static async Task Write<T>(HttpContext ctx, int status, T value, JsonTypeInfo<T> type)
    {
        ctx.Response.StatusCode = status;
        ctx.Response.ContentType = "application/json";
        await JsonSerializer.SerializeAsync(ctx.Response.Body, value, type, ctx.RequestAborted).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
        _metrics.Dispose();
    }

    /// <summary>Sends Kestrel's logs to the firmware's logger factory.</summary>
    private sealed class ForwardingLoggerProvider(ILoggerFactory factory) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => factory.CreateLogger(categoryName);

        public void Dispose()
        {
        }
    }
}
