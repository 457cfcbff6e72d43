// mphub: type-conversion support for code mpgen generates from schema/test/test.capnp
// (named by its $Proxy.includeTypes annotation; included from test.capnp.proxy-types.h).
//
// Every C++ type in mphub/test/test.h is covered by a stock libmultiprocess handler,
// so this header only pulls those handlers in; no custom Build/Read hooks are needed:
//   bool, integers, float, double        mp/type-number.h
//   std::string <-> Text                  mp/type-string.h
//   Bytes (vector<unsigned char>) <-> Data mp/type-data.h
//   std::vector <-> List                  mp/type-vector.h
//   std::pair <-> Pair                    mp/type-pair.h
//   std::optional + hasX                  mp/type-optional.h
//   int32_t* + wantX                      mp/type-pointer.h
//   wrapped structs (Primitives, ...)     mp/type-struct.h
//   unique_ptr<I>, I& <-> capabilities    mp/type-interface.h
//   std::function <-> Callback            mp/type-function.h
//   const T / T& argument types           mp/type-decay.h
//   Context, ThreadMap (count 0 fields)   mp/type-context.h, mp/type-threadmap.h

#ifndef MPHUB_TEST_TEST_TYPES_H
#define MPHUB_TEST_TEST_TYPES_H

#include <mp/proxy-types.h>

#include <mp/type-context.h>
#include <mp/type-data.h>
#include <mp/type-decay.h>
#include <mp/type-function.h>
#include <mp/type-interface.h>
#include <mp/type-number.h>
#include <mp/type-optional.h>
#include <mp/type-pair.h>
#include <mp/type-pointer.h>
#include <mp/type-string.h>
#include <mp/type-struct.h>
#include <mp/type-threadmap.h>
#include <mp/type-vector.h>

#include <mphub/test/test.capnp.h>
#include <mphub/test/test.capnp.proxy.h>
#include <mphub/test/test.h>

#include <cstdint>
#include <type_traits>
#include <utility>

namespace mp {

//! Server side of a `$Proxy.exception("mphub::test::TestError")` result field.
//!
//! libmultiprocess's generic ServerExcept returns void, so it only supports methods
//! whose sole result is the exception (like `raise`); for `checkedDivide @16 (...) ->
//! (result :Int32, error :TestError $Proxy.exception(...))` the generated server code
//! would not compile. This specialization behaves the same (catch TestError, write it
//! into the exception field, return normally) but passes the method's return value
//! through, and leaves `result` at its default when the error is thrown.
template <typename Accessor, typename Parent>
struct ServerExcept<mphub::test::TestError, Accessor, Parent> : Parent
{
    ServerExcept(Parent parent) : Parent(parent) {}

    template <typename ServerContext, typename... Args>
    decltype(auto) invoke(ServerContext& server_context, TypeList<>, Args&&... args) const
    {
        using Result = decltype(Parent::invoke(server_context, TypeList<>(), std::forward<Args>(args)...));
        try {
            return Parent::invoke(server_context, TypeList<>(), std::forward<Args>(args)...);
        } catch (const mphub::test::TestError& error) {
            auto&& results = server_context.call_context.getResults();
            BuildField(TypeList<mphub::test::TestError>(), server_context, Make<StructField, Accessor>(results), error);
            if constexpr (!std::is_void_v<Result>) return std::remove_cvref_t<Result>{};
        }
    }
};

//! Server side of Tester.divide @12 (context, a, b, wantRemainder) -> (result, remainder).
//!
//! mpgen chains one handler per field in schema order, and the method's return value
//! has to come back up through every handler between the call and the `result` field.
//! The stock handlers for out-parameters (here the `remainder` pointer) drop it, so a
//! `result` field followed by another out field - unlike Bitcoin Core's schemas, which
//! always put `result` last - does not compile. The two pieces below carry it through
//! for this one method; they read `wantRemainder` and write `remainder` and `result`
//! exactly as libmultiprocess's pointer and return-value handlers would, at the same
//! points (parameters before the call, results after it).
using DivideRemainderAccessor = Accessor<test_fields::Remainder, FIELD_OUT | FIELD_REQUESTED>;
using DivideRemainderField = ServerField<1, DivideRemainderAccessor, ServerCall>;

template <typename Accessor, typename ServerContext, typename Fn, typename... Args>
    requires std::is_same_v<Accessor, DivideRemainderAccessor>
int32_t CustomPassField(TypeList<int32_t*>, ServerContext& server_context, const Fn& fn, Args&&... args)
{
    const bool want = server_context.call_context.getParams().getWantRemainder();
    int32_t remainder = 0;
    const int32_t result = fn.invoke(server_context, std::forward<Args>(args)..., want ? &remainder : nullptr);
    if (want) server_context.call_context.getResults().setRemainder(remainder);
    return result;
}

template <>
struct ServerRet<Accessor<test_fields::Result, FIELD_OUT>, DivideRemainderField> : DivideRemainderField
{
    ServerRet(DivideRemainderField parent) : DivideRemainderField(parent) {}

    template <typename ServerContext, typename... Args>
    void invoke(ServerContext& server_context, TypeList<int32_t*> types, Args&&... args) const
    {
        const int32_t result = DivideRemainderField::invoke(server_context, types, std::forward<Args>(args)...);
        server_context.call_context.getResults().setResult(result);
    }
};

} // namespace mp

#endif // MPHUB_TEST_TEST_TYPES_H
