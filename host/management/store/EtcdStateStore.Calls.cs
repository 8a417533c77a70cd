using System.Net.Http;
using System.Net.Sockets;
using Etcdserverpb;
using Grpc.Core;
using Grpc.Net.Client;

namespace SnicRuntime.Management.Store;

/// <summary>How every call picks a member, retries what is safe to retry, and turns etcd's errors into ours.</summary>
public sealed partial class EtcdStateStore
{
    private readonly SemaphoreSlim _authGate = new(1, 1);

    /// <summary>
    /// Runs <paramref name="call"/> on the member that answered last, moving on to the next member
    /// while the failure says nothing was done (unreachable, no leader; for reads, any transient
    /// failure), until the store's timeout. <paramref name="lease"/> and <paramref name="key"/> name
    /// the lease a write depends on, for the error when etcd no longer has it.
    /// </summary>
    private async Task<T> Call<T>(string what, bool idempotent, Func<GrpcChannel, CallOptions, Task<T>> call, CancellationToken cancel, long lease = 0, string? key = null, bool login = false)
    {
        DateTime deadline = DateTime.UtcNow + _timeout;
        int start = _current;
        bool reauthenticated = false;
        RpcException? last = null;
        for (int attempt = 0; ; attempt++)
        {
            if (_user is not null && _headers.Count == 0 && !login)
            {
                await Authenticate(deadline, cancel);
            }

            int member = (start + attempt) % _channels.Length;
            try
            {
                T result = await call(_channels[member], new CallOptions(_headers, deadline, cancel));
                _current = member;
                return result;
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Cancelled && cancel.IsCancellationRequested)
            {
                throw new OperationCanceledException(cancel);
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unauthenticated && _user is not null && !reauthenticated && !login)
            {
                reauthenticated = true; // the token lapsed (etcd's simple tokens live 5 minutes): log in again, once
                _headers = [];
                attempt--;
            }
            catch (RpcException e) when (DateTime.UtcNow < deadline && !HandshakeRefused(e) && (NothingWasDone(e) || (idempotent && Transient(e))))
            {
                last = e;
                if ((attempt + 1) % _channels.Length == 0)
                {
                    // Every member said no (an election is under way): wait a little before the next round.
                    await Task.Delay(TimeSpan.FromMilliseconds(100), cancel);
                }
            }
            catch (RpcException e)
            {
                throw Translate(e, what, lease, key);
            }

            if (DateTime.UtcNow >= deadline)
            {
                throw Translate(last ?? new RpcException(new Status(StatusCode.DeadlineExceeded, "deadline")), what, lease, key);
            }
        }
    }

    private async Task Authenticate(DateTime deadline, CancellationToken cancel)
    {
        await _authGate.WaitAsync(cancel);
        try
        {
            if (_headers.Count > 0)
            {
                return;
            }

            AuthenticateResponse r = await Call("log in", true, async (c, o) =>
                await new Auth.AuthClient(c).AuthenticateAsync(new AuthenticateRequest { Name = _user, Password = _password ?? "" }, new CallOptions(null, deadline, cancel)), cancel, login: true);
            _headers = new Metadata { { "token", r.Token } };
        }
        finally
        {
            _authGate.Release();
        }
    }

    /// <summary>The member could not be reached, or refused before proposing anything: any request, a write too, may go to another member.</summary>
    private static bool NothingWasDone(RpcException e) =>
        e.StatusCode == StatusCode.Unavailable && (IsConnectFailure(e) || e.Status.Detail.Contains("no leader", StringComparison.Ordinal));

    private static bool IsConnectFailure(RpcException e) =>
        e.Status.DebugException is HttpRequestException or SocketException
        || e.Status.DebugException?.InnerException is SocketException
        || e.Status.Detail.Contains("Error connecting", StringComparison.Ordinal);

    /// <summary>
    /// Why TLS failed, when it did: a member certificate we do not trust, or a member that refused
    /// ours (it closes the connection during the handshake), or a plain client meeting a TLS member.
    /// </summary>
    private string? TlsFailure(RpcException e)
    {
        for (Exception? x = e.Status.DebugException; x is not null; x = x.InnerException)
        {
            if (x is System.Security.Authentication.AuthenticationException)
            {
                return x.InnerException is { } inner && inner is not System.Security.Authentication.AuthenticationException ? $"{x.Message} {inner.Message}" : x.Message;
            }
        }

        for (Exception? x = e.Status.DebugException; _address.Tls && x is not null; x = x.InnerException)
        {
            // TLS 1.3: our side finishes the handshake before the member checks our certificate, so
            // a refused certificate shows as the member hanging up: as the HTTP/2 preface never
            // answered, a reset of our first write, or the end of the stream mid-handshake
            // (which one depends on timing; a loaded machine has shown each).
            if ((x is IOException && (x.Message.Contains("HTTP/2 handshake", StringComparison.Ordinal) || x.Message.Contains("unexpected EOF", StringComparison.Ordinal)))
                || x is SocketException { SocketErrorCode: SocketError.ConnectionReset }
                || x is HttpRequestException { HttpRequestError: HttpRequestError.SecureConnectionError })
            {
                return "the member hung up right after it: it does not accept our client certificate, or wants one";
            }
        }

        return null;
    }

    /// <summary>
    /// The TLS handshake itself failed (a certificate refused either way): asking another member,
    /// or again, gets the same answer, so the call fails at once instead of at its deadline. A
    /// reset or an early end of stream may also be a member dying, so those are still retried.
    /// </summary>
    private static bool HandshakeRefused(RpcException e)
    {
        for (Exception? x = e.Status.DebugException; x is not null; x = x.InnerException)
        {
            if (x is System.Security.Authentication.AuthenticationException or HttpRequestException { HttpRequestError: HttpRequestError.SecureConnectionError })
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// A read that failed this way can simply be asked again (of this member or another). Cancelled
    /// is among them because our own cancellation is handled before this is asked: what is left is
    /// the connection going away under the call (seen once in a loaded test pass as "could not log
    /// in: Cancelled" with valid certificates).
    /// </summary>
    private static bool Transient(RpcException e) => e.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.Internal or StatusCode.Unknown or StatusCode.Cancelled;

    private StoreException Translate(RpcException e, string what, long lease, string? key)
    {
        string where = $"etcd {string.Join(',', _address.Endpoints)}";
        string detail = e.Status.Detail;
        if (detail.Contains("lease not found", StringComparison.Ordinal))
        {
            return new StoreException($"lease {lease} has expired or was revoked; '{key}' was not written", e);
        }

        if (TlsFailure(e) is string tls)
        {
            return new StoreException($"{where}: the TLS handshake failed ({tls}); could not {what}. Check --store-ca, --store-cert and --store-key against the members' certificates", e);
        }

        return e.StatusCode switch
        {
            StatusCode.Unavailable when IsConnectFailure(e) => new StoreException($"{where}: no member answered; could not {what}", e),
            StatusCode.Unavailable when detail.Contains("no leader", StringComparison.Ordinal) =>
                new StoreException($"{where}: the cluster has no leader (quorum lost?); could not {what}", e),
            StatusCode.Unavailable when detail.Contains("timed out", StringComparison.Ordinal) =>
                new StoreException($"{where}: the write was not committed in time (its leader died, or quorum is lost); it may or may not have applied: {what}", e),
            StatusCode.DeadlineExceeded => new StoreException($"{where}: no answer within {_timeout.TotalSeconds:0.#} s (quorum lost or unreachable); could not {what}", e),
            StatusCode.Unauthenticated or StatusCode.PermissionDenied => new StoreException($"{where} refused to {what}: {detail}", e),
            StatusCode.InvalidArgument or StatusCode.FailedPrecondition or StatusCode.OutOfRange =>
                new StoreException($"{where} rejected the request to {what}: {detail}", e),
            _ => new StoreException($"{where}: could not {what}: {e.StatusCode}: {detail}", e),
        };
    }
}
